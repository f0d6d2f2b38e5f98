"""Change-row validity (contract §3 "Bad change rows", "Numbers in change rows"), one table
for both owners of the rule: the Python twin (replica_ledger.changelog.usable, for writers
that need an API's current version before the warehouse has seen a row) and dbt's
int_limit_changes__validated (the quarantine, with its reason).

Each case: (name, the change log line as written, the quarantine reason dbt gives, None for
a row that is used). The Python must find a row usable exactly when the reason is None.
Duplicate change_ids are the warehouse's alone (the Python twin takes rows one at a time),
so every case has its own change_id.
"""

from __future__ import annotations

import json
import math

VALID = {
    "namespace": "shop",
    "deployment": "api",
    "team": "shop",
    "min_replicas": 2,
    "max_replicas": 4,
    "cpu": 2,
    "memory_gb": 4,
    "changed_at": "2026-10-01T00:00:00Z",
    "changed_by": "pm@example.com",
    "action": "upsert",
    "reason": "launch",
}
_MISSING = object()


def line(change_id, /, **changes) -> str:
    """VALID with `changes` (a value _MISSING drops the field), as one JSON line."""
    row = {"change_id": change_id, **VALID, **changes}
    return json.dumps({name: value for name, value in row.items() if value is not _MISSING})


def _cases() -> list[tuple[str, str, str | None]]:
    m = _MISSING
    return [
        ("valid upsert", line("c-valid"), None),
        ("valid delete without limits", line("c-del", action="delete", max_replicas=m, cpu=m, memory_gb=m), None),
        ("delete with nonsense limits", line("c-del-bad", action="delete", max_replicas=99, cpu="x"), None),
        ("optional fields missing", line("c-opt", team=m, min_replicas=m, changed_by=m, reason=m), None),
        ("optional fields null", line("c-opt-null", team=None, min_replicas=None, reason=None), None),
        ("not JSON", '{"change_id": "c-broken", "namespace": ', "malformed_json"),
        ("a JSON list", "[1, 2]", "malformed_json"),
        ("change_id missing", line(m), "missing_field:change_id"),
        ("change_id empty", line(""), "missing_field:change_id"),
        ("namespace missing", line("c-ns-m", namespace=m), "missing_field:namespace"),
        ("namespace empty", line("c-ns-e", namespace=""), "missing_field:namespace"),
        ("deployment missing", line("c-dep-m", deployment=m), "missing_field:deployment"),
        ("changed_at missing", line("c-at-m", changed_at=m), "missing_field:changed_at"),
        ("action missing", line("c-act-m", action=m), "missing_field:action"),
        ("namespace with capitals", line("c-ns-1", namespace="Shop"), "invalid_namespace"),
        ("namespace with underscore", line("c-ns-2", namespace="shop_eu"), "invalid_namespace"),
        ("namespace with a dot", line("c-ns-3", namespace="shop.eu"), "invalid_namespace"),
        ("namespace of 63", line("c-ns-4", namespace="a" * 63), None),
        ("namespace of 64", line("c-ns-5", namespace="a" * 64), "invalid_namespace"),
        ("namespace ending in -", line("c-ns-6", namespace="shop-"), "invalid_namespace"),
        ("deployment with dots", line("c-dep-1", deployment="api.v2"), None),
        ("deployment with a slash", line("c-dep-2", deployment="api/v2"), "invalid_deployment"),
        ("deployment of 253", line("c-dep-3", deployment="a" * 253), None),
        ("deployment of 254", line("c-dep-4", deployment="a" * 254), "invalid_deployment"),
        ("unknown action", line("c-act-1", action="rename"), "unknown_action"),
        ("changed_at without a zone", line("c-at-1", changed_at="2026-10-01T00:00:00"), "invalid_changed_at"),
        ("changed_at a date", line("c-at-2", changed_at="2026-10-01"), "invalid_changed_at"),
        ("changed_at with an offset", line("c-at-3", changed_at="2026-10-01T02:00:00+02:00"), None),
        ("changed_at with fractions", line("c-at-4", changed_at="2026-10-01T00:00:00.123456Z"), None),
        ("changed_at month 13", line("c-at-5", changed_at="2026-13-01T00:00:00Z"), "invalid_changed_at"),
        ("changed_at not a time", line("c-at-6", changed_at="yesterday"), "invalid_changed_at"),
        ("max_replicas missing", line("c-max-m", max_replicas=m), "missing_field:max_replicas"),
        ("max_replicas null", line("c-max-n", max_replicas=None), "missing_field:max_replicas"),
        ("max_replicas at the floor", line("c-max-1", max_replicas=2), None),
        ("max_replicas at the ceiling", line("c-max-2", max_replicas=8), None),
        ("max_replicas below the floor", line("c-max-3", max_replicas=1, min_replicas=1), "max_replicas_out_of_range"),
        ("max_replicas above the ceiling", line("c-max-4", max_replicas=9), "max_replicas_out_of_range"),
        ("max_replicas huge", line("c-max-5", max_replicas=10**20), "invalid_max_replicas"),
        ("max_replicas 4.5", line("c-max-6", max_replicas=4.5), "invalid_max_replicas"),
        ("max_replicas 4.0", line("c-max-7", max_replicas=4.0), "invalid_max_replicas"),
        ("max_replicas the string 6", line("c-max-8", max_replicas="6"), "invalid_max_replicas"),
        ("max_replicas true", line("c-max-9", max_replicas=True), "invalid_max_replicas"),
        ("min_replicas above max", line("c-min-1", min_replicas=5), "max_replicas_below_min_replicas"),
        ("min_replicas equal to max", line("c-min-2", min_replicas=4), None),
        ("min_replicas 2.5", line("c-min-3", min_replicas=2.5), "invalid_min_replicas"),
        ("min_replicas the string 2", line("c-min-4", min_replicas="2"), "invalid_min_replicas"),
        ("default min above max", line("c-min-5", min_replicas=m, max_replicas=1), "max_replicas_out_of_range"),
        ("cpu missing", line("c-cpu-m", cpu=m), "missing_field:cpu"),
        ("cpu 0", line("c-cpu-1", cpu=0), "invalid_cpu"),
        ("cpu negative", line("c-cpu-2", cpu=-1), "invalid_cpu"),
        ("cpu a fraction", line("c-cpu-3", cpu=0.2), None),
        ("cpu at the pod ceiling", line("c-cpu-4", cpu=1024), None),
        ("cpu above the pod ceiling", line("c-cpu-5", cpu=1025), "invalid_cpu"),
        ("cpu NaN", line("c-cpu-6", cpu=math.nan), "invalid_cpu"),
        ("cpu Infinity", line("c-cpu-7", cpu=math.inf), "invalid_cpu"),
        ("cpu 1e308", line("c-cpu-8", cpu=1e308), "invalid_cpu"),
        ("cpu the string 2", line("c-cpu-9", cpu="2"), "invalid_cpu"),
        ("cpu true", line("c-cpu-10", cpu=True), "invalid_cpu"),
        ("cpu with an exponent", '{"change_id": "c-cpu-11", "namespace": "shop", "deployment": "api", '
         '"max_replicas": 4, "cpu": 1.5e0, "memory_gb": 4, "changed_at": "2026-10-01T00:00:00Z", '
         '"action": "upsert"}', None),
        ("memory_gb missing", line("c-mem-m", memory_gb=m), "missing_field:memory_gb"),
        ("memory_gb at the pod ceiling", line("c-mem-1", memory_gb=65536), None),
        ("memory_gb above the pod ceiling", line("c-mem-2", memory_gb=65537), "invalid_memory_gb"),
        ("memory_gb a list", line("c-mem-3", memory_gb=[4]), "invalid_memory_gb"),
        # spellings the two sides could read differently
        ("change_id blank", line("   "), "missing_field:change_id"),
        ("namespace with a space around", line("c-sp-1", namespace=" shop"), "invalid_namespace"),
        ("action in capitals", line("c-sp-2", action="UPSERT"), "unknown_action"),
        ("action with a space around", line("c-sp-3", action="upsert "), "unknown_action"),
        ("changed_at with a lowercase z", line("c-sp-5", changed_at="2026-10-01t00:00:00z"), None),
        ("changed_at with a space", line("c-sp-6", changed_at="2026-10-01 00:00:00Z"), None),
        ("changed_at offset, no colon", line("c-sp-7", changed_at="2026-10-01T02:00:00+0200"), "invalid_changed_at"),
        ("changed_at without seconds", line("c-sp-8", changed_at="2026-10-01T00:00Z"), "invalid_changed_at"),
    ]  # fmt: skip


CASES = _cases()

"""The demo: October 2026 on two clusters, told as a story (see demo/README.md).

`python -m tooling.demo_data OUTPUT_DIR` writes `archive/`,
`ped_limit_changes.jsonl` and `audit_log.jsonl` (tooling.demo_audit) under OUTPUT_DIR.
The files in the repo's demo/ folder are its output; a test regenerates them and checks
they are unchanged.

The story, on cluster gke-demo-eu unless said otherwise:
- payments/payments-api: approved max 3 (2 vCPU, 4 GB) on days 1-10, raised to 6 through
  PED on day 11 at 09:30. The team raised the HPA to 6 a few hours early, so day 10's
  snapshot (taken at 00:04 on the 11th) breaches hpa_max_over_limit. Billed 351.
- orders/orders-api: max 4, 2 vCPU, 4 GB (294). Someone edits the HPA by hand to max 8
  on day 14 and back to 4 on day 27: one hpa_max_over_limit episode over days 14-26,
  bridging the missing day 23. Replicas reach 6 on days 16-18: replicas_over_limit.
  A PED row asking for max 12 is quarantined and never billed.
- catalog/catalog-api: max 4, 1 vCPU, 2 GB (237). A rolling update on day 7 surges to 5
  pods: not a breach.
- inventory/inventory-api: max 4, 2 vCPU, memory lowered from 8 to 4 GB on day 20:
  billed at the higher version, 370.
- legacy/legacy-api: max 2, 1 vCPU, 1 GB (199), decommissioned (PED delete) on day 15.
- sandbox/shadow-api: appears on day 20 with no PED registration: unregistered_deployment.
- kube-system and gke-managed-* objects are out of scope.
- cluster gke-demo-us: search/search-api (2 vCPU, 4 GB, max 4: 294), captured by hand as
  gzip with no meta file and an autoscaling/v1 HPA. Day 5 is missing there.
- gke-demo-eu has no snapshot on day 23.
"""

from __future__ import annotations

import gzip
import json
import sys
from datetime import date, timedelta
from pathlib import Path

from tooling import demo_audit
from tooling.k8s_objects import capture_time, deployment_object, hpa_object, kubectl_list

DEMO_MONTH = date(2026, 10, 1)
DAYS_IN_DEMO_MONTH = 31
MISSING_DAYS = {"gke-demo-eu": {23}, "gke-demo-us": {5}}


def _api(namespace, name, *, replicas, hpa_max, cpu, memory_gb, team=None, desired=None, surge=0, generation=1):
    return [
        deployment_object(
            namespace,
            name,
            replicas=replicas,
            cpu=cpu,
            memory_gb=memory_gb,
            team=team,
            rollout_surge=surge,
            generation=generation,
        ),
        hpa_object(
            namespace,
            name,
            target=name,
            min_replicas=2,
            max_replicas=hpa_max,
            current=replicas,
            desired=desired,
        ),
    ]


def _payments(day: int) -> list[dict]:
    hpa_max = 6 if day >= 10 else 3
    replicas = 3 if day <= 10 else (4 if day < 15 else 5)
    return _api("payments", "payments-api", replicas=replicas, hpa_max=hpa_max, cpu=2, memory_gb=4, team="payments")


def _orders(day: int) -> list[dict]:
    hpa_max = 8 if 14 <= day <= 26 else 4
    replicas = 6 if 16 <= day <= 18 else 3
    return _api("orders", "orders-api", replicas=replicas, hpa_max=hpa_max, cpu=2, memory_gb=4, team="orders")


def _catalog(day: int) -> list[dict]:
    surge = 1 if day == 7 else 0
    return _api(
        "catalog",
        "catalog-api",
        replicas=4,
        hpa_max=4,
        cpu=1,
        memory_gb=2,
        team="catalog",
        surge=surge,
        generation=2 if day >= 7 else 1,
    )


def _inventory(day: int) -> list[dict]:
    memory = 8 if day < 20 else 4
    return _api("inventory", "inventory-api", replicas=3, hpa_max=4, cpu=2, memory_gb=memory, team="inventory")


def _legacy(day: int) -> list[dict]:
    if day >= 15:
        return []
    return _api("legacy", "legacy-api", replicas=2, hpa_max=2, cpu=1, memory_gb=1, team="legacy")


def _shadow(day: int) -> list[dict]:
    if day < 20:
        return []
    return [deployment_object("sandbox", "shadow-api", replicas=2, team="growth")]


def _system() -> list[dict]:
    return [
        deployment_object("kube-system", "kube-dns", replicas=12, cpu=0.1, memory_gb=0.1),
        deployment_object("gke-managed-cim", "kube-state-metrics", replicas=10, cpu=0.1, memory_gb=0.1),
    ]


def eu_items(day: int) -> list[dict]:
    items: list[dict] = []
    for build in (_payments, _orders, _catalog, _inventory, _legacy, _shadow):
        items += build(day)
    return items + _system()


def us_items(day: int) -> list[dict]:
    return [
        deployment_object("search", "search-api", replicas=3, cpu=2, memory_gb=4, team="search"),
        hpa_object(
            "search",
            "search-api",
            target="search-api",
            min_replicas=2,
            max_replicas=4,
            current=3,
            api_version="autoscaling/v1",
        ),
        deployment_object("kube-system", "kube-dns", replicas=12, cpu=0.1, memory_gb=0.1),
    ]


def _change(
    change_id,
    namespace,
    deployment,
    changed_at,
    *,
    max_replicas=None,
    cpu=None,
    memory_gb=None,
    action="upsert",
    team=None,
    min_replicas=2,
    reason=None,
):
    row = {
        "change_id": change_id,
        "namespace": namespace,
        "deployment": deployment,
        "team": team or namespace,
        "min_replicas": min_replicas,
        "max_replicas": max_replicas,
        "cpu": cpu,
        "memory_gb": memory_gb,
        "changed_at": changed_at,
        "changed_by": "ped-pipeline",
        "action": action,
    }
    if reason:
        row["reason"] = reason
    return {key: value for key, value in row.items() if value is not None}


def change_log_lines() -> list[str]:
    """Arrival order, deliberately not effective order, with bad rows mixed in."""
    rows = [
        _change(
            "ped-0002",
            "payments",
            "payments-api",
            "2026-10-11T09:30:00Z",
            max_replicas=6,
            cpu=2,
            memory_gb=4,
            reason="Black Friday load test",
        ),
        _change(
            "ped-0001",
            "payments",
            "payments-api",
            "2026-09-15T10:00:00Z",
            max_replicas=3,
            cpu=2,
            memory_gb=4,
            reason="onboarding",
        ),
        _change("ped-0003", "orders", "orders-api", "2026-09-01T08:00:00Z", max_replicas=4, cpu=2, memory_gb=4),
        _change("ped-0004", "catalog", "catalog-api", "2026-09-01T08:00:00Z", max_replicas=4, cpu=1, memory_gb=2),
        _change("ped-0005", "legacy", "legacy-api", "2026-08-01T08:00:00Z", max_replicas=2, cpu=1, memory_gb=1),
        _change("ped-0007", "inventory", "inventory-api", "2026-09-01T08:00:00Z", max_replicas=4, cpu=2, memory_gb=8),
        _change(
            "ped-0008",
            "inventory",
            "inventory-api",
            "2026-10-20T08:00:00Z",
            max_replicas=4,
            cpu=2,
            memory_gb=4,
            reason="right-sizing",
        ),
        _change("ped-0009", "search", "search-api", "2026-09-01T08:00:00Z", max_replicas=4, cpu=2, memory_gb=4),
        _change("ped-0006", "legacy", "legacy-api", "2026-10-15T12:00:00Z", action="delete", reason="decommissioned"),
        # Bad rows: each is quarantined with a reason, none is used.
        _change("ped-0010", "orders", "orders-api", "2026-10-14T09:00:00Z", max_replicas=12, cpu=2, memory_gb=4),
        _change("ped-0003", "orders", "orders-api", "2026-09-01T08:00:00Z", max_replicas=4, cpu=2, memory_gb=4),
        _change("ped-0004", "catalog", "catalog-api", "2026-09-01T08:00:00Z", max_replicas=8, cpu=1, memory_gb=2),
        _change(
            "ped-0011",
            "catalog",
            "catalog-api",
            "2026-10-02T08:00:00Z",
            max_replicas=5,
            cpu=1,
            memory_gb=2,
            action="rename",
        ),
    ]
    lines = [json.dumps(row, sort_keys=True) for row in rows]
    lines.insert(9, '{"change_id": "ped-0012", "namespace": "orders", "deployment": "orders-api", "max_repl')
    lines.append(
        json.dumps(
            {
                "change_id": "ped-0013",
                "namespace": "search",
                "max_replicas": 4,
                "cpu": 2,
                "memory_gb": 4,
                "changed_at": "2026-10-03T08:00:00Z",
                "action": "upsert",
            }
        )
    )
    return lines


def write_day(archive_dir: Path, day: date) -> None:
    folder = archive_dir / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    if day.day not in MISSING_DAYS["gke-demo-eu"]:
        (folder / "gke-demo-eu.json").write_text(json.dumps(kubectl_list(eu_items(day.day)), indent=1) + "\n")
        meta = {"cluster": "gke-demo-eu", "captured_at": capture_time(day, minute=4, second=day.day)}
        (folder / "gke-demo-eu.meta.json").write_text(json.dumps(meta) + "\n")
    if day.day not in MISSING_DAYS["gke-demo-us"]:
        payload = json.dumps(kubectl_list(us_items(day.day)), indent=1).encode() + b"\n"
        # mtime=0 keeps the gzip bytes reproducible.
        (folder / "gke-demo-us.json.gz").write_bytes(gzip.compress(payload, mtime=0))


def write_demo(output_dir: Path) -> None:
    archive_dir = output_dir / "archive"
    for offset in range(DAYS_IN_DEMO_MONTH):
        write_day(archive_dir, DEMO_MONTH + timedelta(days=offset))
    (output_dir / "ped_limit_changes.jsonl").write_text("\n".join(change_log_lines()) + "\n")
    (output_dir / "audit_log.jsonl").write_text("\n".join(demo_audit.audit_log_lines()) + "\n")


if __name__ == "__main__":
    write_demo(Path(sys.argv[1] if len(sys.argv) > 1 else "demo"))

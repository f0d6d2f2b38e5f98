"""Change rows of the PED limit change log (contract §1.2): building, normalizing, comparing.

A row has exactly the contract's fields, in this order::

    change_id, namespace, deployment, team, min_replicas, max_replicas, cpu, memory_gb,
    changed_at, changed_by, action, reason

Normal form (what is written, and what two rows are compared in):

* ``changed_at`` is RFC3339 UTC with a ``Z`` (``2026-10-11T08:40:00Z``; microseconds kept
  only when non-zero);
* numbers are ints when integral (``2.0`` -> ``2``), so ``2`` and ``2.0`` are the same content;
* the contract defaults apply (``team`` = namespace, ``min_replicas`` = 2,
  ``changed_by`` = ``unknown``); an empty ``reason`` is null;
* on a ``delete`` the limit fields are null: a delete carries no limits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from replica_ledger.ped.document import (
    ACTIONS,
    DEFAULT_MIN_REPLICAS,
    PLATFORM_MAX_REPLICAS,
    PLATFORM_MIN_REPLICAS,
    PedDocument,
)

FIELDS = (
    "change_id",
    "namespace",
    "deployment",
    "team",
    "min_replicas",
    "max_replicas",
    "cpu",
    "memory_gb",
    "changed_at",
    "changed_by",
    "action",
    "reason",
)
LIMIT_FIELDS = ("min_replicas", "max_replicas", "cpu", "memory_gb")
# What "the limits differ" means when comparing an API's state with its last version.
STATE_FIELDS = ("team", *LIMIT_FIELDS, "action")
UNKNOWN_CHANGED_BY = "unknown"
CHANGE_ID_MAX = 256

_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_CHANGE_ID = re.compile(r"^[^\s\x00-\x1f\x7f]+$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")


class ChangeError(ValueError):
    """A value given for a change row (id, time, author) is unusable."""


def parse_time(text: str) -> datetime:
    """Parse RFC3339 (a UTC offset is required) to an aware UTC datetime (microseconds)."""
    match = _RFC3339.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ChangeError(f"{text!r} is not an RFC3339 timestamp with a UTC offset (e.g. 2026-10-11T08:40:00Z)")
    day, clock, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]  # '.' + at most 6 digits: nanoseconds are truncated
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}").astimezone(UTC)
    except ValueError as exc:
        raise ChangeError(f"{text!r} is not a valid timestamp: {exc}") from None


def format_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_time(value) -> str | None:
    if isinstance(value, datetime):
        return format_time(value)
    if value is None:
        return None
    return format_time(parse_time(value))


def normalize_number(value):
    """2.0 -> 2, 0.5 -> 0.5; anything that is not a finite number is returned as is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        if value.is_integer():
            return int(value)
    return value


def normalize_row(row: Mapping) -> dict:
    """A row (as read from a log or built here) in normal form, for writing and comparing.

    Tolerant: a value that cannot be normalized is kept as is (it then simply differs).
    """
    out = {name: row.get(name) for name in FIELDS}
    if out["team"] in (None, ""):
        out["team"] = out["namespace"]
    if out["changed_by"] in (None, ""):
        out["changed_by"] = UNKNOWN_CHANGED_BY
    if isinstance(out["reason"], str):
        out["reason"] = out["reason"].strip() or None
    with contextlib.suppress(ChangeError):
        out["changed_at"] = normalize_time(out["changed_at"])
    if out["action"] == "delete":
        for name in LIMIT_FIELDS:
            out[name] = None
    else:
        if out["min_replicas"] is None:
            out["min_replicas"] = DEFAULT_MIN_REPLICAS
        for name in LIMIT_FIELDS:
            out[name] = normalize_number(out[name])
    return out


def content_hash_id(row: Mapping) -> str:
    """``ped-`` + 16 hex digits of the SHA-256 of the normal-form row without its change_id."""
    normal = normalize_row(row)
    normal.pop("change_id")
    canonical = json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "ped-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def check_change_id(change_id: str) -> str:
    if not isinstance(change_id, str) or not change_id or len(change_id) > CHANGE_ID_MAX:
        raise ChangeError(f"change id {change_id!r} must be 1..{CHANGE_ID_MAX} characters")
    if not _CHANGE_ID.match(change_id):
        raise ChangeError(f"change id {change_id!r} must not contain spaces or control characters")
    return change_id


@dataclass
class Change:
    """A row to record, and whether its ``changed_at`` was defaulted to "now"."""

    row: dict
    changed_at_defaulted: bool = False

    @property
    def change_id(self) -> str:
        return self.row["change_id"]

    @property
    def api(self) -> str:
        return f"{self.row['namespace']}/{self.row['deployment']}"


def build_change(
    document: PedDocument,
    *,
    change_id: str | None = None,
    changed_at: str | datetime | None = None,
    changed_by: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Change:
    """The change row for a valid PED document.

    * ``changed_at``: given (e.g. the merge time of the PED commit), else now (UTC, seconds).
    * ``changed_by``: given, else ``$GITHUB_ACTOR`` (who merged, in a GitHub workflow),
      else ``unknown``.
    * ``change_id``: given, else ``<$GITHUB_SHA>:<namespace>/<deployment>`` (the PED commit;
      one commit may change several PED files, so the API is part of the id), else a content
      hash of the normal-form row (``ped-<16 hex>``), which includes ``changed_at``.
    """
    env = os.environ if env is None else env
    defaulted = changed_at is None
    if defaulted:
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
    elif isinstance(changed_at, datetime):
        if changed_at.tzinfo is None:
            raise ChangeError("changed_at must carry a UTC offset")
        moment = changed_at
    else:
        moment = parse_time(changed_at)
    who = changed_by if changed_by not in (None, "") else env.get("GITHUB_ACTOR") or UNKNOWN_CHANGED_BY
    row = normalize_row(
        {
            "change_id": None,
            "namespace": document.namespace,
            "deployment": document.deployment,
            "team": document.team,
            "min_replicas": document.min_replicas,
            "max_replicas": document.max_replicas,
            "cpu": document.cpu,
            "memory_gb": document.memory_gb,
            "changed_at": format_time(moment),
            "changed_by": who,
            "action": document.action,
            "reason": document.reason,
        }
    )
    if change_id is None:
        sha = (env.get("GITHUB_SHA") or "").strip()
        if sha and _SHA.match(sha):
            change_id = f"{sha.lower()}:{document.namespace}/{document.deployment}"
        else:
            change_id = content_hash_id(row)
    row["change_id"] = check_change_id(change_id)
    return Change(row=row, changed_at_defaulted=defaulted)


def differences(recorded: Mapping, new: Mapping, ignore: Iterable[str] = ()) -> list[str]:
    """Fields where two rows differ in normal form, as ``field: recorded X, this change Y``."""
    a, b = normalize_row(recorded), normalize_row(new)
    skip = set(ignore)
    return [
        f"{name}: recorded {json.dumps(a[name])}, this change {json.dumps(b[name])}"
        for name in FIELDS
        if name not in skip and a[name] != b[name]
    ]


def usable(row) -> bool:
    """Whether a row passes the contract's "bad change rows" rule (duplicates aside)."""
    if not isinstance(row, Mapping):
        return False
    for name in ("change_id", "namespace", "deployment", "changed_at", "action"):
        if row.get(name) in (None, ""):
            return False
    if row["action"] not in ACTIONS:
        return False
    try:
        parse_time(row["changed_at"]) if not isinstance(row["changed_at"], datetime) else None
    except ChangeError:
        return False
    if row["action"] == "delete":
        return True
    high, low = row.get("max_replicas"), row.get("min_replicas", DEFAULT_MIN_REPLICAS)
    low = DEFAULT_MIN_REPLICAS if low is None else low

    def is_int(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def is_num(value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

    if not (is_int(high) and is_int(low)):
        return False
    if not PLATFORM_MIN_REPLICAS <= high <= PLATFORM_MAX_REPLICAS or low > high:
        return False
    return is_num(row.get("cpu")) and is_num(row.get("memory_gb"))


def current_versions(rows: Iterable[Mapping]) -> dict[tuple[str, str], dict]:
    """The last usable version of each API: latest ``changed_at``, ties by arrival order.

    ``rows`` are in arrival order. Bad rows are skipped, and of rows sharing a change_id
    only the first counts (the contract's conflict rule).
    """
    seen_ids: set = set()
    latest: dict[tuple[str, str], tuple[datetime, int, dict]] = {}
    for arrival, row in enumerate(rows):
        if not usable(row) or row["change_id"] in seen_ids:
            continue
        seen_ids.add(row["change_id"])
        normal = normalize_row(row)
        moment = parse_time(normal["changed_at"])
        key = (normal["namespace"], normal["deployment"])
        if key not in latest or (moment, arrival) >= latest[key][:2]:
            latest[key] = (moment, arrival, normal)
    return {key: value[2] for key, value in latest.items()}


def same_state(a: Mapping, b: Mapping) -> bool:
    """Whether two rows describe the same state of an API (limits, team and action)."""
    x, y = normalize_row(a), normalize_row(b)
    return all(x[name] == y[name] for name in STATE_FIELDS)

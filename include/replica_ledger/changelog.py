"""The PED limit change log (contract §1.2): its rows, their normal form, and reading it.

Writers (``replica_ledger.ped``) and the warehouse load both use this module; nothing else
spells the field list.

A row has exactly the contract's fields, in this order (:data:`FIELDS`)::

    change_id, namespace, deployment, team, min_replicas, max_replicas, cpu, memory_gb,
    changed_at, changed_by, action, reason

Normal form (what is written, and what two rows are compared in):

* ``changed_at`` is RFC3339 UTC with a ``Z`` (``2026-10-11T08:40:00Z``; microseconds kept
  only when non-zero);
* numbers are ints when integral (``2.0`` -> ``2``), so ``2`` and ``2.0`` are the same content;
* the contract defaults apply (``team`` = namespace, ``min_replicas`` = 2,
  ``changed_by`` = ``unknown``); an empty ``reason`` is null;
* on a ``delete`` the limit fields are null: a delete carries no limits.

Reading for the warehouse (:func:`read_change_log`) loses nothing: every non-blank line
becomes one row, in arrival order (its line number). A line that is not a JSON object still
becomes a row, with ``parse_error`` set, so the warehouse can quarantine it with a reason
and the run summary can count it. Values are kept as text: typing and validation happen in
dbt, where the same rules apply to the BigQuery table. Number fields are kept as their JSON
text, so the validation can tell the number ``6`` from the string ``"6"`` (kept as ``"6"``
with its quotes), ``true``, ``NaN`` or ``Infinity`` (contract §3 "Numbers in change rows").
A UTF-8 byte order mark is read as encoding, not as part of the first row; a byte that is
not UTF-8 makes its line a row with ``parse_error`` (the line and the byte offset).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from replica_ledger.contract import (
    CHANGE_LOG_ACTIONS,
    CHANGE_LOG_FIELDS,
    CHANGE_LOG_REQUIRED_FIELDS,
    CHANGE_LOG_UPSERT_ONLY_FIELDS,
    DEFAULT_MIN_REPLICAS,
    MAX_POD_CPU,
    MAX_POD_MEMORY_GB,
    PLATFORM_MAX_REPLICAS,
    PLATFORM_MIN_REPLICAS,
    UNKNOWN_CHANGED_BY,
    is_dns1123_label,
    is_dns1123_subdomain,
)

FIELDS = CHANGE_LOG_FIELDS
LIMIT_FIELDS = ("min_replicas", "max_replicas", "cpu", "memory_gb")
# What "the limits differ" means when comparing an API's state with its last version.
STATE_FIELDS = ("team", *LIMIT_FIELDS, "action")
# Required whatever the action; an upsert also needs CHANGE_LOG_UPSERT_ONLY_FIELDS.
ALWAYS_REQUIRED = tuple(name for name in CHANGE_LOG_REQUIRED_FIELDS if name not in CHANGE_LOG_UPSERT_ONLY_FIELDS)

_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class ChangeError(ValueError):
    """A value given for a change row (id, time, author) is unusable."""


class EmptyRegistry(RuntimeError):
    """The change log has no readable row, and an empty registry was not said to be intended."""


# --- normal form ------------------------------------------------------------------------


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
    """A row (as read from a log or built by a writer) in normal form, for writing and comparing.

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


def differences(recorded: Mapping, new: Mapping, ignore: Iterable[str] = ()) -> list[str]:
    """Fields where two rows differ in normal form, as ``field: recorded X, this change Y``."""
    a, b = normalize_row(recorded), normalize_row(new)
    skip = set(ignore)
    return [
        f"{name}: recorded {json.dumps(a[name])}, this change {json.dumps(b[name])}"
        for name in FIELDS
        if name not in skip and a[name] != b[name]
    ]


def same_state(a: Mapping, b: Mapping) -> bool:
    """Whether two rows describe the same state of an API (limits, team and action)."""
    x, y = normalize_row(a), normalize_row(b)
    return all(x[name] == y[name] for name in STATE_FIELDS)


# --- which rows count -------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _blank(value) -> bool:
    """Missing, as the warehouse reads it: null, or text that is empty once trimmed."""
    return value is None or (isinstance(value, str) and not value.strip())


def _is_finite_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_namespace_name(value) -> bool:
    return is_dns1123_label(value)


def is_object_name(value) -> bool:
    return is_dns1123_subdomain(value)


def _is_pod_size(value, ceiling: float) -> bool:
    """A finite number above 0 and at most the ceiling (1e308 is finite, but its bill is not)."""
    return _is_finite_number(value) and 0 < value <= ceiling


def usable(row) -> bool:
    """Whether a row passes the contract's "bad change rows" rule (duplicates aside).

    The Python twin of dbt's int_limit_changes__validated, for writers that need an API's
    current version before the warehouse has seen the row; tests/parity/cases_change_rows.py
    runs one table of rows through both.
    """
    if not isinstance(row, Mapping):
        return False
    if any(_blank(row.get(name)) for name in ALWAYS_REQUIRED):
        return False
    if row["action"] not in CHANGE_LOG_ACTIONS:
        return False
    if not (is_namespace_name(row["namespace"]) and is_object_name(row["deployment"])):
        return False
    try:
        parse_time(row["changed_at"]) if not isinstance(row["changed_at"], datetime) else None
    except ChangeError:
        return False
    if row["action"] == "delete":
        return True
    high, low = row.get("max_replicas"), row.get("min_replicas", DEFAULT_MIN_REPLICAS)
    low = DEFAULT_MIN_REPLICAS if low is None else low
    if not (_is_int(high) and _is_int(low)):
        return False
    if not PLATFORM_MIN_REPLICAS <= high <= PLATFORM_MAX_REPLICAS or low > high:
        return False
    return _is_pod_size(row.get("cpu"), MAX_POD_CPU) and _is_pod_size(row.get("memory_gb"), MAX_POD_MEMORY_GB)


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


# --- reading the JSON Lines log for the warehouse ------------------------------------------


NUMBER_FIELDS = frozenset(LIMIT_FIELDS)


def _as_text(value) -> str | None:
    """Keep the value as written: strings as is, numbers and others as their JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _number_as_text(value) -> str | None:
    """A number field as its JSON text, so the warehouse can tell 6 from "6" (text: '"6"').

    Python's JSON reader accepts NaN and Infinity and reads 1e999 as Infinity; they stay
    visible here as ``NaN`` / ``Infinity``, which the validation rejects like ``"6"`` and ``true``.
    """
    return None if value is None else json.dumps(value, sort_keys=True)


def change_row(arrival_seq: int, line: str) -> dict:
    """One line of the log as a raw warehouse row: every field as text, or ``parse_error`` set."""
    row: dict = {"arrival_seq": arrival_seq, "raw_line": line, "parse_error": None}
    row.update(dict.fromkeys(FIELDS))
    try:
        document = json.loads(line)
    except ValueError as exc:
        row["parse_error"] = f"malformed JSON: {exc}"
        return row
    if not isinstance(document, dict):
        row["parse_error"] = f"not a JSON object: {type(document).__name__}"
        return row
    for name in FIELDS:
        value = document.get(name)
        row[name] = _number_as_text(value) if name in NUMBER_FIELDS else _as_text(value)
    return row


# A change row is a few hundred bytes (the reason is at most 1,000 characters): a longer
# line is no row, and is never read whole.
MAX_LINE_BYTES = 64 * 1024


def read_change_log(path: Path) -> Iterator[dict]:
    """Yield one row per non-blank line; a missing file is an error, not an empty log.

    The bytes are decoded as strict UTF-8 (`replica_ledger.textlines`): a line with a byte
    that is not UTF-8, or longer than MAX_LINE_BYTES, is a row with ``parse_error`` naming
    the line and the byte offset (quarantined as malformed), never a replacement character.
    A byte order mark some editors write is not part of the first row.
    """
    from replica_ledger.textlines import read_lines

    with path.open("rb") as handle:
        for line in read_lines(handle, MAX_LINE_BYTES):
            if line.error:
                row = {"arrival_seq": line.number, "raw_line": line.text, "parse_error": line.error}
                row.update(dict.fromkeys(FIELDS))
                yield row
            elif line.text:
                yield change_row(line.number, line.text)


def check_registry(rows: list[dict], source: str, *, allow_empty: bool) -> None:
    """Refuse a change log with no readable row (`read_change_log`'s rows), unless
    `allow_empty` (REPLICA_LEDGER_ALLOW_EMPTY_REGISTRY=true) says an empty registry is intended.

    Loaded, such a log makes every Deployment of the fleet unregistered and alerts every
    team: on a first run that is a wrong path or a copy not made yet, far more often than a
    fleet with no approved API. Called before anything is replaced.
    """
    if allow_empty or any(row["parse_error"] is None for row in rows):
        return
    what = "is empty" if not rows else f"has no readable row ({len(rows)} unreadable)"
    raise EmptyRegistry(
        f"{source} {what}: loading it would judge every Deployment unregistered; nothing was loaded. "
        "Check REPLICA_LEDGER_PED_CHANGES, or set REPLICA_LEDGER_ALLOW_EMPTY_REGISTRY=true if no API is "
        "registered yet on purpose."
    )

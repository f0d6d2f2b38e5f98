"""Read the PED limit change log (contract §1.2) from JSON Lines, losing nothing.

Every non-blank line becomes one row, in arrival order (its line number). A line that is
not a JSON object still becomes a row, with `parse_error` set, so the warehouse can
quarantine it with a reason and the run summary can count it. Values are kept as text:
typing and validation happen in dbt, where the same rules apply to the BigQuery table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

CHANGE_FIELDS = (
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


def _as_text(value) -> str | None:
    """Keep the value as written: strings as is, numbers and others as their JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def change_row(arrival_seq: int, line: str) -> dict:
    row: dict = {"arrival_seq": arrival_seq, "raw_line": line, "parse_error": None}
    row.update(dict.fromkeys(CHANGE_FIELDS))
    try:
        document = json.loads(line)
    except ValueError as exc:
        row["parse_error"] = f"malformed JSON: {exc}"
        return row
    if not isinstance(document, dict):
        row["parse_error"] = f"not a JSON object: {type(document).__name__}"
        return row
    for name in CHANGE_FIELDS:
        row[name] = _as_text(document.get(name))
    return row


def read_change_log(path: Path) -> Iterator[dict]:
    """Yield one row per non-blank line; a missing file is an error, not an empty log."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if stripped:
                yield change_row(line_number, stripped)

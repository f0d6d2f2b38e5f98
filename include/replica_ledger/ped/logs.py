"""Where change rows go: a JSON Lines file, or a BigQuery table (``bq://project.dataset.table``).

Both backends share one rule, the contract's: the log is append-only and keyed by
``change_id``. Appending a row whose id is new records it (``accepted``); an id already
recorded with identical content (normal form) is a ``noop``; an id recorded with different
content is a ``conflict`` and nothing is written: the first row stands.

A retry of the same PED commit without ``--changed-at`` gets a fresh "now"; so when the
change's ``changed_at`` was defaulted, it is left out of the comparison (the first
recording's time stands).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from replica_ledger.ped.changes import FIELDS, Change, differences

ACCEPTED = "accepted"
NOOP = "noop"
CONFLICT = "conflict"


@dataclass
class Outcome:
    status: str  # accepted | noop | conflict
    message: str
    differences: list[str] = field(default_factory=list)


class ChangeLog(Protocol):
    dest: str

    def append(self, change: Change) -> Outcome: ...

    def read_rows(self) -> list[dict]:
        """All rows in arrival order (bad rows included, as far as they parse)."""
        ...


def compare(change: Change, recorded: dict, where: str, dest: str) -> Outcome:
    ignore = ("changed_at",) if change.changed_at_defaulted else ()
    diffs = differences(recorded, change.row, ignore=ignore)
    if not diffs:
        return Outcome(NOOP, f"no-op: change {change.change_id} is already recorded in {dest} ({where})")
    return Outcome(
        CONFLICT,
        f"conflict: change {change.change_id} is already recorded in {dest} ({where}) with different "
        f"content ({'; '.join(diffs)}); the change log is append-only and the first row stands",
        diffs,
    )


class JsonlChangeLog:
    """A local JSON Lines file. Appends hold an exclusive ``flock`` and are fsynced."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.dest = str(path)

    @staticmethod
    def _parse(data: bytes) -> list[dict | None]:
        rows: list[dict | None] = []
        for line in data.decode("utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            rows.append(row if isinstance(row, dict) else None)
        return rows

    def read_rows(self) -> list[dict]:
        import fcntl

        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
            data = handle.read()
        return [row for row in self._parse(data) if row is not None]

    def append(self, change: Change) -> Outcome:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "rb") as reader:
                data = reader.read()
            line_number = 0
            for line in data.decode("utf-8", errors="replace").splitlines():
                line_number += 1
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict) and row.get("change_id") == change.change_id:
                    return compare(change, row, f"line {line_number}", self.dest)
            record = {name: change.row.get(name) for name in FIELDS}
            text = json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"
            if data and not data.endswith(b"\n"):
                text = "\n" + text  # a torn last line stays a (bad) line of its own
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the lock
        if created:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        message = f"accepted: change {change.change_id} ({change.api}) appended to {self.dest}"
        return Outcome(ACCEPTED, message)


def open_log(dest: str, *, bigquery_client=None) -> ChangeLog:
    """``bq://project.dataset.table`` -> BigQuery; anything else is a JSON Lines path."""
    if dest.startswith("bq://"):
        from replica_ledger.ped.bigquery import BigQueryChangeLog

        return BigQueryChangeLog(dest, client=bigquery_client)
    if "://" in dest:
        raise ValueError(f"--log {dest!r}: unsupported scheme; use a file path or bq://project.dataset.table")
    return JsonlChangeLog(dest)

"""JSON Lines backend of the change log: a local file, one row per line.

Appends hold an exclusive ``flock`` while they re-read the file for the change_id and write,
and are fsynced (the directory too when the file is created), so concurrent writers and a
crash leave every accepted row on disk exactly once. Field names and order are the
contract's (:data:`replica_ledger.changelog.FIELDS`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from replica_ledger.changelog import FIELDS
from replica_ledger.fsync import fsync_directory
from replica_ledger.ped.backend import ACCEPTED, Outcome, compare
from replica_ledger.ped.record import Change


def _lines(data: bytes) -> list[str | None]:
    """Each line as text; None where it is not UTF-8 (the warehouse quarantines that row, so it
    is no recorded row here either; a replacement character would change its content)."""
    decoded: list[str | None] = []
    for line in data.splitlines():
        try:
            decoded.append(line.decode("utf-8-sig"))
        except UnicodeDecodeError:
            decoded.append(None)
    return decoded


def _parse(data: bytes) -> list[dict | None]:
    """Each non-blank line as a dict, or None where it is not a JSON object."""
    rows: list[dict | None] = []
    for line in _lines(data):
        if line is not None and not line.strip():
            continue
        try:
            row = json.loads(line) if line is not None else None
        except ValueError:
            row = None
        rows.append(row if isinstance(row, dict) else None)
    return rows


def _find(data: bytes, change_id: str) -> tuple[int, dict] | None:
    """(line number, row) of the first row recorded under ``change_id``."""
    for line_number, line in enumerate(_lines(data), start=1):
        if line is None:
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("change_id") == change_id:
            return line_number, row
    return None


class JsonlChangeLog:
    """A local JSON Lines file. Appends hold an exclusive ``flock`` and are fsynced."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.dest = str(path)

    def read_rows(self) -> list[dict]:
        import fcntl

        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
            data = handle.read()
        return [row for row in _parse(data) if row is not None]

    def append(self, change: Change) -> Outcome:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "rb") as reader:
                data = reader.read()
            found = _find(data, change.change_id)
            if found is not None:
                line_number, row = found
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
            fsync_directory(self.path.parent)
        message = f"accepted: change {change.change_id} ({change.api}) appended to {self.dest}"
        return Outcome(ACCEPTED, message)

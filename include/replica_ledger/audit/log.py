"""The audit log (REPLICA_LEDGER_AUDIT_LOG) -> a day's write rows and reject rows.

Both sources are an `AuditSource` (what a day's load asks of the log): a local path is read
here (`AuditFiles`); the log sink's BigQuery table (`bq://PROJECT.DATASET.TABLE`) by
`audit.bigquery_sink.SinkTable`, whose rows end up as the same lines and go through the
same classification below. `warehouse.open_audit_source` picks one from the settings.

The path is a JSON Lines file, or a folder of `dt=YYYY-MM-DD/*.jsonl` (one file per
cluster, or the files a log sink writes). Each line is a Cloud Logging `LogEntry` or an
upstream `audit.k8s.io/v1` `Event` (`audit.entries`). In a folder, a row belongs to the
day of its folder, so a day's load reads that folder only and replaces exactly what it
read; in a single file, to the UTC day of its timestamp (a line without a readable one
goes with the timed line before it, or after it when it comes first).

Every line ends up in exactly one place: a write row (`k8s_audit_events`), a reject row
with the reason (`k8s_audit_rejects`), or a skip count by reason (reads, status updates,
other resources, out-of-scope namespaces, duplicates). Nothing is dropped unseen.
"""

from __future__ import annotations

import codecs
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from replica_ledger.audit.entries import EntryError, is_final_stage, parse_timestamp, read_entry
from replica_ledger.audit.writes import Quarantine, Skip, write_row
from replica_ledger.textlines import read_lines

_DAY_FOLDER = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


class AuditLogError(ValueError):
    """The configured audit log path cannot be read at all (missing, or a folder of no days)."""


@dataclass
class AuditDay:
    """One day of the audit log: its write rows, its reject rows, and what was skipped."""

    day: date
    events: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    def summary(self) -> dict:
        return {"events": len(self.events), "rejects": len(self.rejects), "skipped": dict(self.skipped)}


@dataclass(frozen=True)
class AuditLine:
    """One entry as read: where from (file or table, number), its JSON text, the cluster its
    file names; `reject_reason` when the reader already knows it cannot be read (e.g. a sink
    row whose request body is not JSON)."""

    source: str
    number: int
    text: str
    file_cluster: str | None
    reject_reason: str | None = None


def day_folders(root: Path) -> dict[date, Path]:
    """The `dt=YYYY-MM-DD` folders under `root`, by day."""
    folders = {}
    for child in root.iterdir():
        match = _DAY_FOLDER.match(child.name)
        if match and child.is_dir():
            folders[date.fromisoformat(match[1])] = child
    return folders


@runtime_checkable
class AuditSource(Protocol):
    """What a day's load asks of the audit log, whatever holds it."""

    def versions(self, first: date, last: date) -> dict[date, dict[str, str]]:
        """For the load record: each day of [first, last] -> {what was read: its version}."""
        ...

    def read_day(self, day: date, excluded_namespaces: tuple[str, ...]) -> AuditDay:
        """The day's write rows, reject rows and skip counts."""
        ...


class AuditFiles:
    """A local JSON Lines file or `dt=` folder as the `AuditSource`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def versions(self, first: date, last: date) -> dict[date, dict[str, str]]:
        days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
        return {day: file_versions(self.path, day) for day in days}

    def read_day(self, day: date, excluded_namespaces: tuple[str, ...]) -> AuditDay:
        return read_audit_day(self.path, day, excluded_namespaces)


def file_versions(audit_log: Path, day: date) -> dict[str, str]:
    """Versions of the audit files a load of `day` reads (a single file is every day's)."""
    if not audit_log.exists():
        return {}
    if audit_log.is_dir():
        folder = day_folders(audit_log).get(day)
        files = [] if folder is None else sorted(folder.glob("*.jsonl"))
    else:
        files = [audit_log]
    return {str(path): _file_version(path) for path in files}


def _file_version(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def read_audit_day(path: Path, day: date, excluded_namespaces: tuple[str, ...]) -> AuditDay:
    """The audit rows of `day` in a local file or folder (empty when the log has nothing that day)."""
    if not path.exists():
        raise AuditLogError(f"audit log {path} does not exist")
    if path.is_dir():
        folder = day_folders(path).get(day)
        lines = [] if folder is None else list(_folder_lines(folder))
        lines = [replace(line, reject_reason=line.reject_reason or _folder_stamp_problem(line, day)) for line in lines]
        return classify_lines(day, lines, excluded_namespaces)
    by_day = _single_file_days(path)
    return classify_lines(day, by_day.get(day, []), excluded_namespaces)


def _folder_lines(folder: Path):
    for file in sorted(folder.glob("*.jsonl")):
        yield from _file_lines(file, file_cluster=file.stem)


# One entry with its request and response bodies: a Deployment is at most etcd's 1.5 MB
# object, twice (request and response), with room to spare. A longer line is no entry.
MAX_LINE_BYTES = 4 * 1024 * 1024


def _file_lines(file: Path, file_cluster: str | None):
    """The file's non-blank lines; a file holding one JSON array (what `gcloud logging read
    --format=json` prints, unconverted) gives its elements, numbered from 1. The bytes are
    read as strict UTF-8 (`replica_ledger.textlines`): a line with a byte that is not UTF-8,
    or too long, is a reject naming the line and the byte, never a replacement character."""
    with file.open("rb") as stream:
        head = stream.read(4096).lstrip(codecs.BOM_UTF8).lstrip()
        stream.seek(0)
        if head.startswith(b"["):
            try:
                text = stream.read().decode("utf-8").lstrip("\ufeff")
            except UnicodeDecodeError:
                stream.seek(0)  # not one clean array: read by line, each bad line a reject
            else:
                yield from _array_lines(file, text, file_cluster)
                return
        for line in read_lines(stream, MAX_LINE_BYTES):
            if line.text or line.error:
                yield AuditLine(file.name, line.number, line.text, file_cluster, line.error)


def _array_lines(file: Path, text: str, file_cluster: str | None):
    try:
        elements = json.loads(text)
    except ValueError:
        # Not one array after all (e.g. a JSON Lines file whose first line is a list).
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield AuditLine(file.name, number, line.strip(), file_cluster)
        return
    for number, element in enumerate(elements, start=1):
        yield AuditLine(f"{file.name}[{number}]", number, json.dumps(element, separators=(",", ":")), file_cluster)


def _single_file_days(file: Path) -> dict[date, list[AuditLine]]:
    """A single file's lines by the UTC day of their timestamp; untimed lines join a neighbour.

    A line stamped far from every other line of the file (2099 or 1970 in a log of 2026) is
    no evidence of its own day, and that day may never be loaded: it is read as untimed (it
    joins a neighbour's day) and quarantined there with the reason (`far_stamped`).
    """
    lines = list(_file_lines(file, file_cluster=None))
    stamps = [_line_stamp(line) for line in lines]
    outliers = _outlier_positions(stamps)
    days = [None if stamp is None or index in outliers else stamp.date() for index, stamp in enumerate(stamps)]
    previous = next((day for day in days if day is not None), None)
    by_day: dict[date, list[AuditLine]] = {}
    for index, (line, day) in enumerate(zip(lines, days, strict=True)):
        previous = day or previous
        if previous is None:
            continue
        if index in outliers:
            line = replace(line, reject_reason=_far_reason(stamps[index], previous))
        by_day.setdefault(previous, []).append(line)
    return by_day


# A file's timestamps form runs whose consecutive gaps are at most this; lines outside the
# largest run are stamped implausibly (a quiet month between two writes is still plausible).
MAX_STAMP_GAP = timedelta(days=31)
# A line of a dt=D folder is stamped within [D - 1 day, D + 2 days) (a late delivery).
FOLDER_STAMP_SLACK = (timedelta(days=1), timedelta(days=2))


# No Kubernetes API server wrote an audit entry before Kubernetes existed (its first
# public commit): an earlier stamp (1970, year 1) is a zeroed or broken clock.
KUBERNETES_EPOCH = datetime(2014, 6, 6)


def _outlier_positions(stamps: list[datetime | None]) -> set[int]:
    """Positions of the stamps before KUBERNETES_EPOCH or outside the largest run of the
    file's stamps (see MAX_STAMP_GAP; of equal runs, the earliest stands)."""
    early = {index for index, stamp in enumerate(stamps) if stamp is not None and stamp < KUBERNETES_EPOCH}
    timed = sorted((stamp, index) for index, stamp in enumerate(stamps) if stamp is not None and index not in early)
    runs: list[list[int]] = []
    last: datetime | None = None
    for stamp, index in timed:
        if last is None or stamp - last > MAX_STAMP_GAP:
            runs.append([])
        runs[-1].append(index)
        last = stamp
    if len(runs) <= 1:
        return early
    largest = max(runs, key=len)  # the first of equal runs: the earliest
    return early | {index for run in runs if run is not largest for index in run}


def _far_reason(stamp: datetime, day: date) -> str:
    why = (
        f"is before {KUBERNETES_EPOCH.date().isoformat()} (before Kubernetes)"
        if stamp < KUBERNETES_EPOCH
        else f"is more than {MAX_STAMP_GAP.days} days away from every other line of the file"
    )
    return (
        f"timestamp {stamp.isoformat()}Z {why}: counted on {day.isoformat()} (the day of the line next to it), "
        "on no day of its own"
    )


def _folder_stamp_problem(line: AuditLine, day: date) -> str | None:
    """Why a line of the dt=`day` folder cannot be of that day (its stamp is far outside it)."""
    stamp = _line_stamp(line)
    start = datetime.combine(day, time(0, 0))
    low, high = start - FOLDER_STAMP_SLACK[0], start + FOLDER_STAMP_SLACK[1]
    if stamp is None or low <= stamp < high:
        return None
    return (
        f"timestamp {stamp.isoformat()}Z is outside [{low.isoformat()}Z, {high.isoformat()}Z) for the folder "
        f"dt={day.isoformat()}: counted on that day, not used as a write"
    )


def _line_stamp(line: AuditLine) -> datetime | None:
    try:
        entry = json.loads(line.text)
        stamp = entry.get("timestamp") or entry.get("stageTimestamp") or entry.get("requestReceivedTimestamp")
        return parse_timestamp(stamp)
    except (ValueError, AttributeError, EntryError):
        return None


def classify_lines(day: date, lines: list[AuditLine], excluded_namespaces: tuple[str, ...]) -> AuditDay:
    """Each line of `day` as a write row, a reject row or a skip count (the module docstring)."""
    result = AuditDay(day)
    seen_ids: dict[str, AuditLine] = {}
    for line in lines:
        outcome = _outcome(line, excluded_namespaces)
        if isinstance(outcome, Skip):
            result.skipped[outcome.reason] += 1
        elif isinstance(outcome, Quarantine):
            result.rejects.append(_reject_row(day, line, outcome.reason))
        elif outcome["audit_id"] and outcome["audit_id"] in seen_ids:
            first = seen_ids[outcome["audit_id"]]
            if json.loads(first.text) == json.loads(line.text):
                result.skipped["duplicate entry (same id)"] += 1
            else:
                # The first stands (as for PED change ids); the second is kept, not lost.
                reason = (
                    f"entry id {outcome['audit_id']!r} repeats {first.source} line {first.number} with different "
                    f"content; the first stands"
                )
                result.rejects.append(_reject_row(day, line, reason))
        else:
            if outcome["audit_id"]:
                seen_ids[outcome["audit_id"]] = line
            outcome["snapshot_date"] = day
            result.events.append(outcome)
    return result


def _outcome(line: AuditLine, excluded_namespaces: tuple[str, ...]) -> dict | Skip | Quarantine:
    if line.reject_reason:
        return Quarantine(line.reject_reason)
    try:
        decoded = json.loads(line.text)
    except ValueError as exc:
        return Quarantine(f"not JSON: {exc}")
    if isinstance(decoded, dict) and not is_final_stage(decoded):
        return Skip(f"stage {decoded.get('stage')}")
    try:
        entry = read_entry(decoded, line.file_cluster)
    except EntryError as exc:
        return Quarantine(str(exc))
    return write_row(entry, excluded_namespaces)


def _reject_row(day: date, line: AuditLine, reason: str) -> dict:
    facts = _best_effort_facts(line)
    return {
        "snapshot_date": day,
        "cluster": facts.get("cluster") or line.file_cluster,
        "source": line.source,
        "line_number": line.number,
        "changed_at": facts.get("changed_at"),
        "principal": facts.get("principal"),
        "method": facts.get("method"),
        "reason": reason,
        "entry_json": line.text,
    }


def _best_effort_facts(line: AuditLine) -> dict:
    """What a reject row can still say about its line (where, who, when, which method)."""
    try:
        entry = read_entry(json.loads(line.text), line.file_cluster)
    except (ValueError, EntryError):
        return {}
    return {"cluster": entry.cluster, "changed_at": entry.at, "principal": entry.principal, "method": entry.method}

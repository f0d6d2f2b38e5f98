"""The load record: what a day's load read, so a later run can tell whether the day changed.

A run for day D reloads the days of its lookback window `[D - L, D]` (contract §5 "Late
data"). Reloading every day of the window on every run would cost L extra loads a day, so
each load also writes one `day_loads` row for its day: a fingerprint of everything the
load's rows depend on,

- every object of the day's archive folder (`dt=D/`) with its version (size and mtime
  locally, size and generation on GCS): a snapshot copied in late, a meta file added, a
  file fixed by hand all change it;
- the clusters the day expects (configured, plus every cluster seen on or before the day):
  a first snapshot of a new cluster, copied in late for an earlier day, makes the later
  days expect it too;
- the day's audit source files, when an audit log is configured (a single audit file is
  one version for every day: when it grows, the window's days reload); for the log sink's
  BigQuery table, the day's row count and latest timestamp (rows streamed in late reload
  their day);
- LOADER_VERSION, to reload once after a change to what the loader writes.

The row is written into the same sink as the day's rows, so it is replaced with them (one
DuckDB transaction; one WRITE_TRUNCATE of the day's partition on BigQuery) and never
describes rows that are not there. A past day of the window is loaded again when its
fingerprint differs from its record (the row keeps each input's version too, so the run
can say which file changed). A day that was never loaded is loaded by a later run only if
the archive now has files for it and it is after the first day the warehouse ever loaded:
a hole in the history is filled, but a run never reaches back before the pipeline's first
day (the history starts where the runs start, as a backfill of the same days would).

The run window (`run_window`, contract §5 "Late data"): every run, scheduled or backfill,
rebuilds `[max(D - L, E), D]`, E the earliest day of `[D - L, D]` whose inputs changed since
it was built: its files or audit entries (the fingerprint), or a PED row that arrived since
the last load (`ped_seen`, the change log's highest `arrival_seq` then), counted from its
`changed_at` day. With nothing changed the window is `[D, D]`. The run's own row keeps the
window and its reasons (`run_window`), which the build step reads back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from replica_ledger import safe_text
from replica_ledger.audit.log import AuditSource
from replica_ledger.raw.layout import ARCHIVE, ArchiveLayout
from replica_ledger.raw.stores import ObjectStore

LOAD_RECORD = "day_loads"
# Change it when the loader writes other rows for the same files: every window day reloads once.
LOADER_VERSION = "1"


def window_days(day: date, lookback_days: int) -> list[date]:
    """`[day - lookback_days, day]`, oldest first."""
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    return [day - timedelta(days=back) for back in range(lookback_days, -1, -1)]


@dataclass(frozen=True)
class Recorded:
    """A day's load record as read back (`RawLoad.load_history`)."""

    fingerprint: str
    # Each input's version at that load (None in a record written before the column existed).
    input_versions: Mapping | None = None
    # The PED change log's highest arrival_seq that load knew of.
    ped_seen: int | None = None
    # The run window of the run for this day (JSON), when this day was a run's own day.
    run_window: str | None = None

    @classmethod
    def of_row(cls, row: Mapping) -> Recorded:
        versions = row.get("input_versions")
        return cls(
            fingerprint=row["fingerprint"],
            input_versions=json.loads(versions) if versions else None,
            ped_seen=row.get("ped_seen"),
            run_window=row.get("run_window"),
        )


@dataclass(frozen=True)
class LoadHistory:
    """What the warehouse's load records say, for a run of `day`."""

    records: Mapping[date, Recorded]
    first_loaded: date | None = None
    # The highest `ped_seen` of the records of other days: the PED rows the last build knew.
    ped_seen: int | None = None


@dataclass(frozen=True)
class DayInputs:
    """What a load of `day` would read, as versions; its fingerprint is the load record."""

    day: date
    files: Mapping[str, str]
    expected_clusters: tuple[str, ...]
    audit_files: Mapping[str, str]

    @property
    def has_files(self) -> bool:
        return bool(self.files)

    @property
    def versions(self) -> dict:
        return {
            "loader": LOADER_VERSION,
            "files": dict(sorted(self.files.items())),
            "expected_clusters": list(self.expected_clusters),
            "audit": dict(sorted(self.audit_files.items())),
        }

    @property
    def fingerprint(self) -> str:
        described = {
            "loader": LOADER_VERSION,
            "files": sorted(self.files.items()),
            "expected_clusters": list(self.expected_clusters),
            "audit": sorted(self.audit_files.items()),
        }
        return hashlib.sha256(json.dumps(described, separators=(",", ":")).encode()).hexdigest()

    def record_row(self, *, ped_seen: int | None = None, run_window: str | None = None) -> dict:
        """The `day_loads` row of a load of this day."""
        return {
            "snapshot_date": self.day,
            "fingerprint": self.fingerprint,
            "source_files": json.dumps(sorted(self.files), separators=(",", ":")),
            "input_versions": json.dumps(self.versions, separators=(",", ":")),
            "ped_seen": ped_seen,
            "run_window": run_window,
        }

    def needs_load(self, recorded: Recorded | str | None, first_loaded: date | None) -> bool:
        """Whether a past day of the window is loaded: its files differ from its last load's,
        or it was never loaded, has files now, and lies after the first day ever loaded."""
        return bool(self.changes(recorded, first_loaded))

    def changes(self, recorded: Recorded | str | None, first_loaded: date | None) -> list[str]:
        """Why a past day of the window is loaded again (terminal-safe); empty when it is not."""
        if isinstance(recorded, str):
            recorded = Recorded(fingerprint=recorded)
        if recorded is None:
            if self.has_files and first_loaded is not None and self.day > first_loaded:
                return [f"never loaded, files now: {_names(self.files)}"]
            return []
        if recorded.fingerprint == self.fingerprint:
            return []
        before = recorded.input_versions
        if not before:
            return ["inputs changed since its last load"]
        now = self.versions
        reasons = [
            *_version_changes("file", before.get("files") or {}, now["files"]),
            *_version_changes("audit", before.get("audit") or {}, now["audit"]),
        ]
        if list(before.get("expected_clusters") or []) != now["expected_clusters"]:
            reasons.append(f"expected clusters now {_names(now['expected_clusters'])}")
        if before.get("loader") != now["loader"]:
            reasons.append("loader version changed")
        return reasons or ["inputs changed since its last load"]


def _names(names: Iterable[str]) -> str:
    return ", ".join(safe_text.for_terminal(name) for name in sorted(names))


def _version_changes(kind: str, before: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """One reason per input whose version differs: new, changed or removed (terminal-safe)."""
    reasons = []
    for name in sorted(set(before) | set(now)):
        if name not in before:
            reasons.append(f"{kind} {safe_text.for_terminal(name)} new")
        elif name not in now:
            reasons.append(f"{kind} {safe_text.for_terminal(name)} removed")
        elif before[name] != now[name]:
            reasons.append(f"{kind} {safe_text.for_terminal(name)} changed")
    return reasons


@dataclass(frozen=True)
class PedArrival:
    """A PED change log row that arrived after the last load's `ped_seen`."""

    arrival_seq: int
    change_id: str | None
    changed_on: date | None  # the UTC day of changed_at; None when it does not parse


@dataclass(frozen=True)
class RunWindow:
    """The days a run for `day` rebuilds, `[start, day]`, and why."""

    day: date
    start: date
    lookback_days: int
    # Past days of [D - L, D) loaded again, each with why.
    reloads: Mapping[date, tuple[str, ...]]
    # Every day of [D - L, D] whose inputs changed, each with why (reloads and PED rows).
    changed: Mapping[date, tuple[str, ...]]
    # PED rows that arrived with a changed_at before D - L: the days before the window are
    # not rebuilt (contract §5: they change only when re-run).
    not_healed: tuple[str, ...] = ()

    @property
    def days_back(self) -> int:
        """`D - start` in days: what dbt receives (settings.RUN_WINDOW_ENV lookback_days)."""
        return (self.day - self.start).days

    def to_json(self) -> str:
        return json.dumps(
            {
                "start": self.start.isoformat(),
                "end": self.day.isoformat(),
                "lookback_days": self.lookback_days,
                "reloaded": {day.isoformat(): list(why) for day, why in sorted(self.reloads.items())},
                "changed": {day.isoformat(): list(why) for day, why in sorted(self.changed.items())},
                "not_healed": list(self.not_healed),
            },
            separators=(",", ":"),
        )

    def summary(self) -> dict:
        return json.loads(self.to_json())

    def log_lines(self) -> list[str]:
        """What the run reloads and rebuilds, and why: one line each (reasons are terminal-safe)."""
        first = f"window {self.day}: rebuilds {self.start}..{self.day}"
        if self.start == self.day:
            lines = [f"{first}: no input of the {self.lookback_days} days before changed since they were built"]
        else:
            lines = [f"{first}: {self.start} is the earliest day whose inputs changed"]
        for day, why in sorted(self.changed.items()):
            verb = "reloaded and rebuilt" if day in self.reloads else "rebuilt"
            lines.append(f"window {self.day}: {day} {verb}: {'; '.join(why)}")
        late = "not healed (re-run those days)"
        lines.extend(f"window {self.day}: {late}: {why}" for why in self.not_healed)
        return lines


def run_window(
    day: date,
    lookback_days: int,
    inputs: Mapping[date, DayInputs],
    history: LoadHistory,
    arrivals: Iterable[PedArrival] = (),
) -> RunWindow:
    """`[max(D - L, E), D]`: E is the earliest day of `inputs` (the days of [D - L, D]) whose
    files or audit entries changed since its last load (never-loaded days with files after
    the first day loaded count), or that a PED row arrived since the last load covers: from
    the day before its changed_at day (that day's snapshot is captured on changed_at's day),
    and the whole window when it is older. Days after D are not D's to rebuild."""
    lowest = day - timedelta(days=lookback_days)
    reloads: dict[date, tuple[str, ...]] = {}
    for other, what in sorted(inputs.items()):
        if other == day or not lowest <= other < day:
            continue
        why = what.changes(history.records.get(other), history.first_loaded)
        if why:
            reloads[other] = tuple(why)
    changed: dict[date, list[str]] = {other: list(why) for other, why in reloads.items()}
    not_healed = []
    for row in sorted(arrivals, key=lambda arrival: arrival.arrival_seq):
        if row.changed_on is None or row.changed_on > day:
            continue  # an unreadable time is quarantined; a future change judges no day up to D
        what = f"PED change {safe_text.for_terminal(row.change_id or '(no id)')} (arrival {row.arrival_seq})"
        what = f"{what} changed_at {row.changed_on}"
        # A snapshot day is captured just after its midnight: the day before changed_at's
        # may have been captured after the change, so it is judged again too.
        first = row.changed_on - timedelta(days=1)
        if first < lowest:
            not_healed.append(f"{what}: days before {lowest}")
        changed.setdefault(max(first, lowest), []).append(what)
    start = min((other for other in changed if other < day), default=day)
    return RunWindow(
        day=day,
        start=start,
        lookback_days=lookback_days,
        reloads=reloads,
        changed={other: tuple(why) for other, why in changed.items()},
        not_healed=tuple(not_healed),
    )


def parse_changed_on(changed_at: str | None) -> date | None:
    """The UTC day of a change log row's changed_at text (RFC 3339 with a zone), else None."""
    from datetime import UTC, datetime

    if not changed_at:
        return None
    try:
        moment = datetime.fromisoformat(changed_at.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).date()


def window_inputs(
    store: ObjectStore,
    days: Iterable[date],
    configured_clusters: Iterable[str],
    audit: AuditSource | None,
    *,
    layout: ArchiveLayout = ARCHIVE,
) -> dict[date, DayInputs]:
    """DayInputs of each day: one names-only listing up to the last day (the clusters seen),
    then one listing with versions per day folder (and the audit source's versions of the
    window: one query over a sink table)."""
    days = sorted(days)
    audit_versions = {} if audit is None else audit.versions(days[0], days[-1])
    snapshots = layout.snapshots_until(store, days[-1])
    configured = set(configured_clusters)
    inputs = {}
    for day in days:
        seen = {cluster for seen_day, clusters in snapshots.items() if seen_day <= day for cluster in clusters}
        inputs[day] = DayInputs(
            day=day,
            files=store.versions(layout.day_folder(day)),
            expected_clusters=tuple(sorted(configured | seen)),
            audit_files=audit_versions.get(day, {}),
        )
    return inputs

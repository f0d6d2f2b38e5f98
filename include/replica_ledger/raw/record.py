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
fingerprint differs from its record. A day that was never loaded is loaded by a later
run only if the archive now has files for it and it is after the first day the warehouse
ever loaded: a hole in the history is filled, but a run never reaches back before the
pipeline's first day (a first run, or a backfill's first day, loads its own day only, so
that the history starts where the runs start, as a backfill of the same days would).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

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
    def fingerprint(self) -> str:
        described = {
            "loader": LOADER_VERSION,
            "files": sorted(self.files.items()),
            "expected_clusters": list(self.expected_clusters),
            "audit": sorted(self.audit_files.items()),
        }
        return hashlib.sha256(json.dumps(described, separators=(",", ":")).encode()).hexdigest()

    def record_row(self) -> dict:
        """The `day_loads` row of a load of this day."""
        return {
            "snapshot_date": self.day,
            "fingerprint": self.fingerprint,
            "source_files": json.dumps(sorted(self.files), separators=(",", ":")),
        }

    def needs_load(self, recorded: str | None, first_loaded: date | None) -> bool:
        """Whether a past day of the window is loaded: its files differ from its last load's,
        or it was never loaded, has files now, and lies after the first day ever loaded."""
        if recorded is None:
            return self.has_files and first_loaded is not None and self.day > first_loaded
        return recorded != self.fingerprint


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

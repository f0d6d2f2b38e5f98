"""The load step: the run's day, and the late days of its window, into the warehouse's raw tables."""

from __future__ import annotations

import logging
from datetime import date

from replica_ledger.settings import Settings

log = logging.getLogger(__name__)


def archive_store(settings: Settings):
    """Where the snapshots are read: the environment's GCS bucket on GCP, the archive folder locally."""
    from replica_ledger.raw.stores import GcsStore, LocalStore

    if settings.gcp is not None:
        from replica_ledger.warehouse.google import storage_client

        return GcsStore(settings.gcp.bucket, settings.gcp.snapshot_prefix, connect=lambda: storage_client(settings))
    return LocalStore(settings.archive_dir)


def run_lookback_days(settings: Settings, *, is_backfill: bool) -> int:
    """The lookback window L of a run (contract §5 "Late data"): a run for D reloads and
    rebuilds [D - L, D].

    A backfill replays its days in order, so each day is rebuilt by its own run: it uses 0.
    With L, a backfill would rebuild as many overlapping windows as it has days for the same
    rows. Current-day and manual runs use Settings.lookback_days.
    """
    return 0 if is_backfill else settings.lookback_days


def lookback(settings: Settings, lookback_days: int | None) -> int:
    return settings.lookback_days if lookback_days is None else lookback_days


def load_day(settings: Settings, day: date, store=None, *, lookback_days: int | None = None) -> dict:
    """Replace `day` in the raw tables of the warehouse the dbt target names, and every past
    day of the lookback window whose archive changed since it was loaded; idempotent.

    The only load entry point, on both paths: a day of the archive (local folder or GCS) is
    streamed into the warehouse's day sink (DuckDB: one transaction per day; BigQuery: one
    WRITE_TRUNCATE load job per table and day partition). A past day of the window is loaded
    again only when its load record (raw.record) says its files changed, or appeared: a
    snapshot copied in late fills its gap. The run's own day is always loaded; a run never
    reaches back before the first day the warehouse loaded. Locally the PED change log is
    reloaded too; on BigQuery it is a table dbt reads directly.
    """
    from replica_ledger.raw.record import window_days, window_inputs
    from replica_ledger.warehouse import open_audit_source, open_warehouse

    store = store or archive_store(settings)
    days_back = lookback(settings, lookback_days)
    audit = open_audit_source(settings)
    inputs = window_inputs(store, window_days(day, days_back), settings.clusters, audit)
    loads, audits = {}, {}
    with open_warehouse(settings).loading() as raw:
        for due in _days_due(inputs, raw.load_records(min(inputs), max(inputs)), day):
            with raw.replacing_day(due) as sink:
                loads[due], audits[due] = _write_day(settings, store, inputs[due], sink, audit)
    extra = {**raw.summary, "audit": audits[day]}
    load = loads[day]
    summary = {
        "snapshot_date": day.isoformat(),
        "rows": {**load.rows, **extra.pop("rows", {})},
        "clusters": load.statuses(),
        "gaps": [row["cluster"] for row in load.manifest if row["status"] != "loaded"],
        "rejected_objects": load.rows["k8s_rejects"],
        # Meta files not believed (another cluster, a time outside the day): judged at the default.
        "rejected_meta_files": {
            row["cluster"]: row["error"] for row in load.manifest if row["status"] == "loaded" and row["error"]
        },
        "lookback_days": days_back,
        # Past days of the window loaded again: their archive changed since their last load.
        "reloaded_days": {other.isoformat(): loads[other].statuses() for other in sorted(loads) if other != day},
        **extra,
    }
    log.info("load %s: %s", day, summary)
    return summary


def _days_due(inputs: dict, loaded: tuple[dict[date, str], date | None], day: date) -> list[date]:
    """The run's day, and the past days whose archive differs from their load record
    (`loaded`: the window's records and the first day ever loaded)."""
    records, first_loaded = loaded
    due = [
        other
        for other, what in sorted(inputs.items())
        if other == day or what.needs_load(records.get(other), first_loaded)
    ]
    late = [other.isoformat() for other in due if other != day]
    if late:
        log.info("load %s: files new or changed since the last load of %s: loading them", day, ", ".join(late))
    return due


def _write_day(settings: Settings, store, inputs, sink, audit) -> tuple:
    """One day's rows, its audit rows and its load record into `sink`."""
    from replica_ledger.raw.day import write_audit_rows, write_day_rows, write_load_record

    load = write_day_rows(store, inputs.day, settings.clusters, sink)
    audit_summary = write_audit_rows(audit, load, settings.excluded_namespaces, sink)
    write_load_record(inputs.record_row(), load, sink)
    return load, audit_summary

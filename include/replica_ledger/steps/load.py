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


def lookback(settings: Settings, lookback_days: int | None) -> int:
    return settings.lookback_days if lookback_days is None else lookback_days


def load_day(settings: Settings, day: date, store=None, *, lookback_days: int | None = None) -> dict:
    """Replace `day` in the raw tables of the warehouse the dbt target names, and every past
    day of the lookback window whose archive changed since it was loaded; idempotent. Every
    run, scheduled or backfill, decides its run window here (raw.record.run_window):
    `[max(D - L, E), D]`, E the earliest day whose inputs changed since it was built.

    The only load entry point, on both paths: a day of the archive (local folder or GCS) is
    streamed into the warehouse's day sink (DuckDB: one transaction per day; BigQuery: one
    WRITE_TRUNCATE load job per table and day partition). A past day of the window is loaded
    again only when its load record (raw.record) says its files changed, or appeared: a
    snapshot copied in late fills its gap. The run's own day is always loaded; a run never
    reaches back before the first day the warehouse loaded. The run's day's load record
    keeps the window and why, for the build step and the operator. Locally the PED change
    log is reloaded too; on BigQuery it is a table dbt reads directly.
    """
    from replica_ledger.raw.record import run_window, window_days, window_inputs
    from replica_ledger.warehouse import open_audit_source, open_warehouse

    store = store or archive_store(settings)
    days_back = lookback(settings, lookback_days)
    audit = open_audit_source(settings)
    inputs = window_inputs(store, window_days(day, days_back), settings.clusters, audit)
    loads, audits = {}, {}
    with open_warehouse(settings).loading() as raw:
        history = raw.load_history(min(inputs), max(inputs), day)
        arrivals, ped_seen = raw.ped_arrivals(history.ped_seen)
        window = run_window(day, days_back, inputs, history, arrivals)
        for line in window.log_lines():
            log.info("%s", line)
        for due in [*sorted(window.reloads), day]:
            kept = history.records.get(due)
            record = inputs[due].record_row(
                ped_seen=ped_seen,
                # A past day keeps the window its own run chose; the run's day records this one.
                run_window=window.to_json() if due == day else (kept.run_window if kept else None),
            )
            with raw.replacing_day(due) as sink:
                loads[due], audits[due] = _write_day(settings, store, inputs[due], record, sink, audit)
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
        # The days the build rebuilds, [start, D], and why (the same JSON as the load record's).
        "run_window": window.summary(),
        **extra,
    }
    log.info("load %s: %s", day, summary)
    return summary


def window_days_back(settings: Settings, day: date) -> int:
    """Days before `day` the run's build rebuilds: what the run's load recorded (its window's
    start), or the whole lookback window when no load of `day` recorded one (a load record
    older than the window, or a build run without its load)."""
    import json

    from replica_ledger.warehouse import open_warehouse

    record = open_warehouse(settings).load_record(day)
    if record is None or not record.run_window:
        log.info("build %s: no run window recorded by a load of the day: rebuilding [D - L, D]", day)
        return settings.lookback_days
    start = date.fromisoformat(json.loads(record.run_window)["start"])
    return (day - start).days


def _write_day(settings: Settings, store, inputs, record: dict, sink, audit) -> tuple:
    """One day's rows, its audit rows and its load record into `sink`."""
    from replica_ledger.raw.day import write_audit_rows, write_day_rows, write_load_record

    load = write_day_rows(store, inputs.day, settings.clusters, sink)
    audit_summary = write_audit_rows(audit, load, settings.excluded_namespaces, sink)
    write_load_record(record, load, sink)
    return load, audit_summary

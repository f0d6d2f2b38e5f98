"""The policy step: the limits in force, read through the warehouse seam, written as a day's
folder (contract section 8) to REPLICA_LEDGER_POLICY_DIR: a local folder, or gs:// in
production (through the archive's storage client, the Airflow connection's credentials).

The DAG's folder for day D holds the limits in force at the end of D, so a re-run or a
backfill of D writes the same bytes; `make policies` writes the current versions.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from replica_ledger.policies import folder, objects
from replica_ledger.settings import GCS_SCHEME, Settings


def end_of_day(day: date) -> datetime:
    """The moment D's folder describes (naive UTC, as the warehouse's timestamps)."""
    return datetime.combine(day + timedelta(days=1), time())


def day_files(settings: Settings, day: date, *, current: bool = False, warehouse=None) -> folder.DayFiles:
    """The day's files from the warehouse: the limits in force at the end of `day` (or the
    current versions), one ClusterRules per expected cluster, the settings' actions."""
    from replica_ledger.warehouse import open_warehouse, queries

    warehouse = warehouse or open_warehouse(settings)
    rows = queries.limits_in_force(warehouse, None if current else end_of_day(day))
    limits = [objects.Limit(row["namespace"], row["deployment"], int(row["max_replicas"])) for row in rows]
    clusters = sorted(set(settings.clusters) | set(queries.policy_clusters(warehouse)))
    return folder.build_files(limits, clusters, settings.policy_actions, queries.limit_namespaces(warehouse))


def write_policies(
    settings: Settings, day: date, *, current: bool = False, warehouse=None, storage_client=None
) -> dict:
    """Write the day's folder; returns where, and the manifest (for the task's XCom)."""
    files = day_files(settings, day, current=current, warehouse=warehouse)
    if settings.policy_dir.startswith(GCS_SCHEME):
        if storage_client is None:
            from replica_ledger.warehouse.google import storage_client as client_of

            storage_client = client_of(settings)
        where = folder.write_gcs(settings.policy_dir, day, files, storage_client)
    elif settings.gcp is not None:  # settings.py refuses it first; never a worker's disk in production
        raise RuntimeError(f"production writes the policy folders to gs://, not {settings.policy_dir}")
    else:
        where = folder.write_local(Path(settings.policy_dir), day, files)
    return {"folder": where, **files.manifest()}

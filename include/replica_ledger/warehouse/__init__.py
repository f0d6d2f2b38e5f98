"""The warehouse seam: DuckDB locally, BigQuery in production, chosen once from Settings.

`open_warehouse(settings)` is the one place that asks which warehouse the dbt target is;
everything else speaks to the `base.Warehouse` it returns (queries with parameters, the
raw load, the alert log, dbt's environment, `MissingTable`). The SQL the steps, the alert
and the report run against the marts is in `queries`. `open_audit_source(settings)` is
the same choice for the audit log: the local files, or the log sink's BigQuery table.

    duckdb.py    the embedded file: raw tables, the per-day transaction, the change log, alert_log
    bigquery.py  day-partition load jobs, queries, alert_log, the audit sink's client
    google.py    the Google clients, with the Airflow connection's credentials
    queries.py   the SQL on the dbt models (both dialects)
"""

from __future__ import annotations

from replica_ledger.settings import AuditTable, Settings
from replica_ledger.warehouse.base import MissingTable, RawLoad, Warehouse

__all__ = ["MissingTable", "RawLoad", "Warehouse", "open_audit_source", "open_warehouse"]


def open_warehouse(settings: Settings, *, bigquery_client=None) -> Warehouse:
    """The warehouse of the dbt target: BigQuery (`bigquery`, or the tests' `bigquery_emulator`)
    or the DuckDB file. `bigquery_client` injects a client (an emulator's, in tests)."""
    if settings.uses_bigquery:
        from replica_ledger.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse(settings, bigquery_client)
    from replica_ledger.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(settings)


def open_audit_source(settings: Settings):
    """The audit log of REPLICA_LEDGER_AUDIT_LOG as an `audit.log.AuditSource`: the local
    file or folder, or the log sink's BigQuery table; None when no audit log is set."""
    audit_log = settings.audit_log
    if audit_log is None:
        return None
    if isinstance(audit_log, AuditTable):
        from replica_ledger.warehouse.bigquery import audit_sink_source

        return audit_sink_source(settings, audit_log)
    from replica_ledger.audit.log import AuditFiles

    return AuditFiles(audit_log)

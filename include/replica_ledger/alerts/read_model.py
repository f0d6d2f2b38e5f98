"""The alert's read model: the episodes of one snapshot day, from the dbt model
``fct_breach_alerts``, on whichever warehouse the dbt target is (DuckDB or BigQuery).

One query, with the day as a bound parameter on both: DuckDB ``?``, BigQuery a named
query parameter. Only the table name is put into the SQL, and it is checked first.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

MODEL = "fct_breach_alerts"

_COLUMNS = """
    cluster, namespace, deployment, team, breach_type, observed_value, approved_max_replicas,
    episode_started_on as started_on, episode_status as status, cpu, memory_gb,
    excess_replicas, excess_monthly_cost,
    crossed_by, crossed_with, crossed_at, crossed_field, crossed_from_value, crossed_to_value,
    ped_approved_at, ped_approved_max_replicas
"""
_ORDER = "order by status, namespace, deployment, breach_type, cluster"
_BQ_TABLE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){2}$")


def duckdb_sql() -> str:
    return f"select {_COLUMNS} from main.{MODEL} where snapshot_date = ? {_ORDER}"


def bigquery_sql(table: str) -> str:
    if not _BQ_TABLE.match(table):
        raise ValueError(f"not a BigQuery table id (project.dataset.table): {table!r}")
    return f"select {_COLUMNS} from `{table}` where snapshot_date = @day {_ORDER}"


def episodes_of_day(settings: Any, day: date, *, bigquery_client: Any = None) -> list[dict]:
    """Rows of ``fct_breach_alerts`` for ``day``: the new, open and resolved episodes with
    their excess monthly cost (dicts with the field names of ``alerts.Episode``)."""
    from replica_ledger.alerts.ledger import is_bigquery_target

    if is_bigquery_target(settings):
        return _bigquery_rows(settings, day, bigquery_client)
    return _duckdb_rows(settings, day)


def _duckdb_rows(settings: Any, day: date) -> list[dict]:
    from replica_ledger import warehouse

    # Not read-only: DuckDB refuses a second connection to a file with another configuration
    # (dbt, in the same process, holds a read-write one).
    with warehouse.connect(settings.duckdb_path) as con:
        cursor = con.execute(duckdb_sql(), [day])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _bigquery_rows(settings: Any, day: date, client: Any) -> list[dict]:
    from google.cloud import bigquery

    from replica_ledger.alerts.ledger import bigquery_client_for

    client = client or bigquery_client_for(settings)
    dataset = settings.dataset
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("day", "DATE", day)])
    job = client.query(bigquery_sql(f"{client.project}.{dataset}.{MODEL}"), job_config=config)
    return [dict(row.items()) for row in job.result()]

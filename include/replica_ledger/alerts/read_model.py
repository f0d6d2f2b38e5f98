"""The alert's read model: the episodes a run's alert may speak of, from the dbt model
``fct_breach_alerts``, on whichever warehouse the dbt target is (DuckDB or BigQuery).

The rows of the run's day, and of the days before it back to ``since`` (as far back as
alerts may go): a late file can reveal an episode that started and ended before the run's
day, and only those days list it. Each episode is taken from its latest row.

One query, with the days as bound parameters on both: DuckDB ``?``, BigQuery named query
parameters. Only the table name is put into the SQL, and it is checked first.
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
    ped_approved_at, ped_approved_max_replicas, snapshot_date
"""
# Oldest day first, so that each episode's latest row is the one kept.
_ORDER = "order by snapshot_date, status, namespace, deployment, breach_type, cluster"
_EPISODE = ("cluster", "namespace", "deployment", "breach_type", "started_on")
_BQ_TABLE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){2}$")


def duckdb_sql() -> str:
    return f"select {_COLUMNS} from main.{MODEL} where snapshot_date between ? and ? {_ORDER}"


def bigquery_sql(table: str) -> str:
    if not _BQ_TABLE.match(table):
        raise ValueError(f"not a BigQuery table id (project.dataset.table): {table!r}")
    return f"select {_COLUMNS} from `{table}` where snapshot_date between @since and @day {_ORDER}"


def episodes_of_day(settings: Any, day: date, *, since: date | None = None, bigquery_client: Any = None) -> list[dict]:
    """The new, open and resolved episodes of ``day`` with their excess monthly cost, and
    those of the days back to ``since`` (default: ``day`` alone) that ``day`` no longer
    lists: one dict per episode, from its latest row, with the field names of
    ``alerts.Episode`` (and its row's ``snapshot_date``)."""
    from replica_ledger.alerts.ledger import is_bigquery_target

    since = min(since or day, day)
    if is_bigquery_target(settings):
        rows = _bigquery_rows(settings, since, day, bigquery_client)
    else:
        rows = _duckdb_rows(settings, since, day)
    return latest_row_of_each_episode(rows)


def latest_row_of_each_episode(rows: list[dict]) -> list[dict]:
    """``rows`` (oldest day first) with one row per episode, its latest; order otherwise kept."""
    latest = {tuple(row[name] for name in _EPISODE): row for row in rows}
    return [row for row in rows if latest[tuple(row[name] for name in _EPISODE)] is row]


def _duckdb_rows(settings: Any, since: date, day: date) -> list[dict]:
    from replica_ledger import warehouse

    # Not read-only: DuckDB refuses a second connection to a file with another configuration
    # (dbt, in the same process, holds a read-write one).
    with warehouse.connect(settings.duckdb_path) as con:
        cursor = con.execute(duckdb_sql(), [since, day])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _bigquery_rows(settings: Any, since: date, day: date, client: Any) -> list[dict]:
    from google.cloud import bigquery

    from replica_ledger.alerts.ledger import bigquery_client_for

    client = client or bigquery_client_for(settings)
    dataset = settings.dataset
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("since", "DATE", since),
            bigquery.ScalarQueryParameter("day", "DATE", day),
        ]
    )
    job = client.query(bigquery_sql(f"{client.project}.{dataset}.{MODEL}"), job_config=config)
    return [dict(row.items()) for row in job.result()]

"""The alert's read model: the episodes a run's alert may speak of, from the dbt model
``fct_breach_alerts``, on whichever warehouse the dbt target is (``warehouse.open_warehouse``).

The rows of the run's day, and of the days before it back to ``since`` (as far back as
alerts may go): a late file can reveal an episode that started and ended before the run's
day, and only those days list it. Each episode is taken from its latest row. One query
(``warehouse.queries.alert_rows``), the days as bound parameters.
"""

from __future__ import annotations

from datetime import date
from typing import Any

_EPISODE = ("cluster", "namespace", "deployment", "breach_type", "started_on")


def episodes_of_day(settings: Any, day: date, *, since: date | None = None, bigquery_client: Any = None) -> list[dict]:
    """The new, open and resolved episodes of ``day`` with their excess monthly cost, and
    those of the days back to ``since`` (default: ``day`` alone) that ``day`` no longer
    lists: one dict per episode, from its latest row, with the field names of
    ``alerts.Episode`` (and its row's ``snapshot_date``). ``bigquery_client`` injects a
    client (an emulator's) when the target is BigQuery."""
    from replica_ledger.warehouse import open_warehouse, queries

    since = min(since or day, day)
    rows = queries.alert_rows(open_warehouse(settings, bigquery_client=bigquery_client), since, day)
    return latest_row_of_each_episode(rows)


def latest_row_of_each_episode(rows: list[dict]) -> list[dict]:
    """``rows`` (oldest day first) with one row per episode, its latest; order otherwise kept."""
    latest = {tuple(row[name] for name in _EPISODE): row for row in rows}
    return [row for row in rows if latest[tuple(row[name] for name in _EPISODE)] is row]

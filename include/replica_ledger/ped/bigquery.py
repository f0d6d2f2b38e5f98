"""BigQuery backend of the change log: ``bq://project.dataset.table``.

Writing is one parameterized ``MERGE`` keyed on ``change_id`` that only inserts when the id
is new; every value travels as a typed query parameter (``ScalarQueryParameter``). The only
thing interpolated into SQL text is the table identifier, and only after it matched
:data:`TABLE_URL` (no backticks, quotes, spaces or semicolons can pass).

The table has the contract's columns plus ``arrival_seq INT64``: UNIX microseconds taken by
BigQuery at insert (``UNIX_MICROS(CURRENT_TIMESTAMP)``), which defines "first in arrival
order". If the MERGE inserted nothing, the id was there already: the first row by
``arrival_seq`` is read back and compared (no-op or conflict).

Concurrency: BigQuery may run two insert-only MERGEs on one table concurrently, so two
writers racing with one new change_id can both insert. The contract covers that: the first
row by ``arrival_seq`` stands and the warehouse quarantines the other.

The client is injectable (``client=`` or ``client_factory=``); by default it is
``google.cloud.bigquery.Client(project=<project of the URL>)``, imported only when used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from replica_ledger.changelog import FIELDS, parse_time
from replica_ledger.ped.backend import ACCEPTED, Outcome, compare
from replica_ledger.ped.record import Change

# Project ids: 6..30 of [a-z0-9-], starting with a letter, not ending with '-'.
# Datasets: letters, digits, '_'. Tables: letters, digits, '_' and '-' (stricter than BigQuery).
TABLE_URL = re.compile(
    r"^bq://(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])"
    r"\.(?P<dataset>[A-Za-z0-9_]{1,1024})"
    r"\.(?P<table>[A-Za-z0-9_][A-Za-z0-9_-]{0,1023})$"
)

# The BigQuery type of each change-log field, in FIELDS order (the table's columns, the MERGE's
# parameters); tests check it covers FIELDS exactly.
PARAM_TYPES = {
    "change_id": "STRING",
    "namespace": "STRING",
    "deployment": "STRING",
    "team": "STRING",
    "min_replicas": "INT64",
    "max_replicas": "INT64",
    "cpu": "FLOAT64",
    "memory_gb": "FLOAT64",
    "changed_at": "TIMESTAMP",
    "changed_by": "STRING",
    "action": "STRING",
    "reason": "STRING",
}
COLUMNS = (*FIELDS, "arrival_seq")


class BigQueryTableError(ValueError):
    pass


def parse_table(url: str) -> tuple[str, str, str]:
    match = TABLE_URL.match(url)
    if not match:
        raise BigQueryTableError(
            f"--log {url!r}: expected bq://project.dataset.table (project: 6-30 of a-z, 0-9, '-'; "
            "dataset: letters, digits, '_'; table: letters, digits, '_', '-')"
        )
    return match["project"], match["dataset"], match["table"]


def table_sql(url: str) -> str:
    """The quoted table identifier, the only non-parameter part of the SQL."""
    return "`{}.{}.{}`".format(*parse_table(url))


def ddl_sql(url: str) -> str:
    """Every column nullable, so that bad rows from other writers still land and get quarantined."""
    columns = [f"  {name} {kind}" for name, kind in PARAM_TYPES.items()]
    columns.append("  arrival_seq INT64")
    return f"CREATE TABLE IF NOT EXISTS {table_sql(url)} (\n" + ",\n".join(columns) + "\n)"


def merge_sql(url: str) -> str:
    select = ",\n    ".join(f"@{name} AS {name}" for name in FIELDS)
    columns = ", ".join(COLUMNS)
    values = ", ".join(f"source.{name}" for name in FIELDS)
    return (
        f"MERGE INTO {table_sql(url)} AS target\n"
        f"USING (\n  SELECT\n    {select}\n) AS source\n"
        "ON target.change_id = source.change_id\n"
        "WHEN NOT MATCHED THEN\n"
        f"  INSERT ({columns})\n"
        f"  VALUES ({values}, UNIX_MICROS(CURRENT_TIMESTAMP))"
    )


def first_row_sql(url: str) -> str:
    return (
        f"SELECT {', '.join(COLUMNS)} FROM {table_sql(url)}\n"
        "WHERE change_id = @change_id\nORDER BY arrival_seq\nLIMIT 1"
    )


def all_rows_sql(url: str) -> str:
    return f"SELECT {', '.join(COLUMNS)} FROM {table_sql(url)}\nORDER BY arrival_seq, change_id"


def merge_parameters(row: dict) -> list[tuple[str, str, object]]:
    """(name, BigQuery type, value) for every field; TIMESTAMP values are aware datetimes."""
    params = []
    for name in FIELDS:
        value = row.get(name)
        if name == "changed_at" and value is not None and not isinstance(value, datetime):
            value = parse_time(value)
        elif PARAM_TYPES[name] == "FLOAT64" and value is not None:
            value = float(value)
        params.append((name, PARAM_TYPES[name], value))
    return params


def _job_config(params: list[tuple[str, str, object]]):
    from google.cloud import bigquery

    return bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter(name, kind, value) for name, kind, value in params]
    )


def _default_client(project: str):
    from google.cloud import bigquery

    return bigquery.Client(project=project)


class BigQueryChangeLog:
    def __init__(
        self,
        url: str,
        *,
        client=None,
        client_factory: Callable[[str], object] | None = None,
    ):
        self.project, self.dataset, self.table = parse_table(url)
        self.dest = url
        self._client = client
        self._factory = client_factory or _default_client

    @property
    def client(self):
        if self._client is None:
            self._client = self._factory(self.project)
        return self._client

    def _run(self, sql: str, params: list[tuple[str, str, object]]):
        job = self.client.query(sql, job_config=_job_config(params))
        rows = job.result()
        return job, rows

    def create_table(self) -> None:
        self._run(ddl_sql(self.dest), [])

    def append(self, change: Change) -> Outcome:
        job, _ = self._run(merge_sql(self.dest), merge_parameters(change.row))
        if job.num_dml_affected_rows:
            message = f"accepted: change {change.change_id} ({change.api}) merged into {self.dest}"
            return Outcome(ACCEPTED, message)
        _, rows = self._run(first_row_sql(self.dest), [("change_id", "STRING", change.change_id)])
        rows = [dict(row.items()) for row in rows]
        if not rows:  # deleted between the two statements: nothing sane to compare with
            raise RuntimeError(f"change {change.change_id} was not inserted and cannot be read back")
        return compare(change, rows[0], f"arrival_seq {rows[0].get('arrival_seq')}", self.dest)

    def read_rows(self) -> list[dict]:
        _, rows = self._run(all_rows_sql(self.dest), [])
        return [dict(row.items()) for row in rows]

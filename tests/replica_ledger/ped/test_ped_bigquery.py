"""The BigQuery backend: SQL is parameterized, and its MERGE logic runs for real on DuckDB.

There is no network here, so the injected client runs the generated BigQuery SQL on DuckDB
after a mechanical dialect translation (``@p`` -> ``$p``, backticks -> double quotes, type
names, ``UNIX_MICROS``). The parameters are the real ``ScalarQueryParameter`` objects.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from replica_ledger.changelog import FIELDS, current_versions
from replica_ledger.ped.bigquery import (
    PARAM_TYPES,
    BigQueryChangeLog,
    BigQueryTableError,
    merge_parameters,
    merge_sql,
    parse_table,
)
from replica_ledger.ped.destination import open_log
from replica_ledger.ped.document import load_document
from replica_ledger.ped.record import build_change

GOOD = Path(__file__).parent / "fixtures" / "good"
QUOTE = GOOD / "quote-api.yaml"
TABLE = "bq://acme-platform.ped.limit_changes"

_TYPES = {"STRING": "VARCHAR", "INT64": "BIGINT", "FLOAT64": "DOUBLE", "TIMESTAMP": "TIMESTAMPTZ"}


def to_duckdb(sql: str) -> str:
    sql = re.sub(r"`([^`]+)`", r'"\1"', sql)
    sql = re.sub(r"@(\w+)", r"$\1", sql)
    return re.sub(r"\b(STRING|INT64|FLOAT64|TIMESTAMP)\b", lambda m: _TYPES[m[1]], sql)


class DuckJob:
    def __init__(self, rows, affected):
        self._rows = rows
        self.num_dml_affected_rows = affected

    def result(self):
        return self._rows


class DuckDBBigQueryClient:
    """Just enough of google.cloud.bigquery.Client.query, executed on DuckDB."""

    def __init__(self):
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("CREATE MACRO UNIX_MICROS(ts) AS epoch_us(ts)")
        self.queries: list[tuple[str, list]] = []

    def query(self, sql, job_config=None):
        parameters = list(job_config.query_parameters) if job_config else []
        self.queries.append((sql, parameters))
        values = {p.name: p.value for p in parameters}
        cursor = self.con.execute(to_duckdb(sql), values or None)
        if sql.startswith("MERGE"):
            return DuckJob([], cursor.fetchall()[0][0])
        if sql.startswith("SELECT"):
            names = [column[0] for column in cursor.description]
            return DuckJob([dict(zip(names, row, strict=True)) for row in cursor.fetchall()], None)
        return DuckJob([], None)


@pytest.fixture
def client():
    return DuckDBBigQueryClient()


@pytest.fixture
def table(client):
    log = BigQueryChangeLog(TABLE, client=client)
    log.create_table()
    return log


def change(path=QUOTE, **kwargs):
    kwargs.setdefault("changed_at", "2026-09-14T13:02:00Z")
    kwargs.setdefault("env", {})
    return build_change(load_document(path), **kwargs)


def test_merge_sql_carries_no_values():
    row = change(change_id="ped-7f3a9c1';DROP-TABLE-x;--", changed_by="mallory@example.com").row
    sql = merge_sql(TABLE)
    for name, value in row.items():
        if isinstance(value, str):
            assert value not in sql, name
    assert "mallory" not in sql and "DROP" not in sql
    assert set(re.findall(r"@(\w+)", sql)) == set(FIELDS)
    assert sql.startswith("MERGE INTO `acme-platform.ped.limit_changes` AS target\n")
    assert "ON target.change_id = source.change_id" in sql
    assert "WHEN MATCHED" not in sql  # append-only: never updates
    assert "UNIX_MICROS(CURRENT_TIMESTAMP)" in sql


def test_table_has_the_change_log_fields_in_order_then_arrival_seq(client, table):
    assert tuple(PARAM_TYPES) == FIELDS
    described = client.con.execute('DESCRIBE "acme-platform.ped.limit_changes"').fetchall()
    assert [row[0] for row in described] == [*FIELDS, "arrival_seq"]
    assert all(row[2] == "YES" for row in described)  # nullable: bad rows still land


def test_parameters_are_typed_scalar_query_parameters(client, table):
    table.append(change(change_id="ped-1"))
    sql, params = client.queries[-1]
    from google.cloud.bigquery import ScalarQueryParameter

    assert all(isinstance(p, ScalarQueryParameter) for p in params)
    assert [(p.name, p.type_) for p in params] == [
        ("change_id", "STRING"),
        ("namespace", "STRING"),
        ("deployment", "STRING"),
        ("team", "STRING"),
        ("min_replicas", "INT64"),
        ("max_replicas", "INT64"),
        ("cpu", "FLOAT64"),
        ("memory_gb", "FLOAT64"),
        ("changed_at", "TIMESTAMP"),
        ("changed_by", "STRING"),
        ("action", "STRING"),
        ("reason", "STRING"),
    ]
    assert {p.name: p.value for p in params}["cpu"] == 2.0
    assert sql == merge_sql(TABLE)


@pytest.mark.parametrize(
    "url",
    [
        "bq://acme-platform.ped.limit_changes`; DROP TABLE t; --",
        "bq://acme-platform.ped.limit changes",
        "bq://Acme.ped.t",
        "bq://acme.ped.t",  # project ids are at least 6 characters
        "bq://acme-platform.ped",
        "bq://acme-platform.ped.t.extra",
        "bq://acme-platform.p-d.t",
        "bq://acme-platform-.ped.t",
    ],
)
def test_table_identifier_is_validated_strictly(url):
    with pytest.raises(BigQueryTableError):
        parse_table(url)


def test_open_log_picks_bigquery_and_builds_the_client_lazily():
    made = []
    log = BigQueryChangeLog(TABLE, client_factory=lambda project: made.append(project) or "client")
    assert made == []
    assert log.client == "client" and made == ["acme-platform"]
    assert isinstance(open_log(TABLE, bigquery_client=object()), BigQueryChangeLog)


def test_merge_inserts_once_then_noop_then_conflict(table):
    first = table.append(change(change_id="ped-7f3a9c1"))
    again = table.append(change(change_id="ped-7f3a9c1"))
    other = table.append(change(change_id="ped-7f3a9c1", changed_by="bob"))
    assert [first.status, again.status, other.status] == ["accepted", "noop", "conflict"]
    assert other.differences == ['changed_by: recorded "unknown", this change "bob"']
    rows = table.read_rows()
    assert len(rows) == 1
    assert rows[0]["changed_by"] == "unknown"
    assert isinstance(rows[0]["arrival_seq"], int) and rows[0]["arrival_seq"] > 1_700_000_000_000_000


def test_merge_of_a_delete_with_null_limits(table):
    table.append(change(change_id="ped-1"))
    deleted = table.append(change(GOOD / "delete.yaml", change_id="ped-2", changed_at="2026-12-01T00:00:00Z"))
    assert deleted.status == "accepted"
    assert table.append(change(GOOD / "delete.yaml", change_id="ped-2", changed_at="2026-12-01T00:00:00Z")).status == (
        "noop"
    )
    rows = table.read_rows()
    assert [(r["change_id"], r["action"], r["max_replicas"], r["cpu"]) for r in rows] == [
        ("ped-1", "upsert", 4, 2.0),
        ("ped-2", "delete", None, None),
    ]
    assert current_versions(rows)[("pricing", "quote-api")]["action"] == "delete"


def test_first_row_by_arrival_seq_stands(client, table):
    """Two racing writers both inserted: the comparison reads the first in arrival order."""
    client.con.execute(
        """INSERT INTO "acme-platform.ped.limit_changes" VALUES
        ('ped-x', 'pricing', 'quote-api', 'pricing', 2, 6, 2, 4, '2026-09-14 13:02:00+00', 'late', 'upsert',
         'onboarding', 20),
        ('ped-x', 'pricing', 'quote-api', 'pricing', 2, 4, 2, 4, '2026-09-14 13:02:00+00', 'unknown', 'upsert',
         'onboarding', 10)"""
    )
    assert table.append(change(change_id="ped-x")).status == "noop"


def test_cli_records_into_bigquery(ped, client):
    args = ("record", QUOTE, "--log", TABLE, "--create-table", "--changed-at", "2026-09-14T13:02:00Z")
    first = ped(*args, bigquery_client=client)
    second = ped(*args, bigquery_client=client)
    assert first.out_lines[-1] == "summary: accepted=1 no-op=0 rejected=0"
    assert second.out_lines[-1] == "summary: accepted=0 no-op=1 rejected=0"
    assert first.out_lines[0].endswith(f"(pricing/quote-api) merged into {TABLE}")
    raised = ped(*args[:-2], "--changed-at", "2026-09-14T13:02:00Z", "--change-id", "fixed", bigquery_client=client)
    assert raised.code == 0
    assert len(client.con.execute('SELECT * FROM "acme-platform.ped.limit_changes"').fetchall()) == 2


def test_cli_bad_table(ped):
    result = ped("record", QUOTE, "--log", "bq://acme-platform.ped.t;x")
    assert result.code == 2
    assert result.err_lines[0].startswith(
        "error: --log 'bq://acme-platform.ped.t;x': expected bq://project.dataset.table"
    )


def test_merge_parameters_of_changed_at_are_aware_datetimes():
    params = dict((name, value) for name, _, value in merge_parameters(change(change_id="x").row))
    assert params["changed_at"].isoformat() == "2026-09-14T13:02:00+00:00"

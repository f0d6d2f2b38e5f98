"""The embedded DuckDB warehouse: raw tables and the idempotent per-day load.

A day's load deletes that day's rows and inserts the new ones in one transaction, so a
re-run replaces the day and never appends a second copy. DuckDB allows one writer per
file: the DAG serializes every task that opens it through a one-slot pool.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from datetime import date
from pathlib import Path

RAW_SCHEMA = "raw"

# Column order and types of each raw table. Keep in step with dbt_project/models/staging/_sources.yml.
RAW_TABLES: dict[str, dict[str, str]] = {
    "k8s_deployments": {
        "snapshot_date": "DATE",
        "cluster": "VARCHAR",
        "captured_at": "TIMESTAMP",
        "namespace": "VARCHAR",
        "deployment": "VARCHAR",
        "uid": "VARCHAR",
        "team_label": "VARCHAR",
        "generation": "BIGINT",
        "observed_generation": "BIGINT",
        "spec_replicas": "BIGINT",
        "status_replicas": "BIGINT",
        "ready_replicas": "BIGINT",
        "available_replicas": "BIGINT",
        "updated_replicas": "BIGINT",
        "unavailable_replicas": "BIGINT",
        "max_surge": "VARCHAR",
    },
    "k8s_hpas": {
        "snapshot_date": "DATE",
        "cluster": "VARCHAR",
        "captured_at": "TIMESTAMP",
        "namespace": "VARCHAR",
        "hpa": "VARCHAR",
        "api_version": "VARCHAR",
        "target_kind": "VARCHAR",
        "target_name": "VARCHAR",
        "min_replicas": "BIGINT",
        "max_replicas": "BIGINT",
        "current_replicas": "BIGINT",
        "desired_replicas": "BIGINT",
    },
    "k8s_rejects": {
        "snapshot_date": "DATE",
        "cluster": "VARCHAR",
        "item_index": "BIGINT",
        "kind": "VARCHAR",
        "reason": "VARCHAR",
        "item_json": "VARCHAR",
    },
    "snapshot_manifest": {
        "snapshot_date": "DATE",
        "cluster": "VARCHAR",
        "status": "VARCHAR",
        "captured_at": "TIMESTAMP",
        "source_uri": "VARCHAR",
        "source_sha256": "VARCHAR",
        "deployment_count": "BIGINT",
        "hpa_count": "BIGINT",
        "rejected_count": "BIGINT",
        "error": "VARCHAR",
    },
    "ped_limit_changes": {
        "arrival_seq": "BIGINT",
        "change_id": "VARCHAR",
        "namespace": "VARCHAR",
        "deployment": "VARCHAR",
        "team": "VARCHAR",
        "min_replicas": "VARCHAR",
        "max_replicas": "VARCHAR",
        "cpu": "VARCHAR",
        "memory_gb": "VARCHAR",
        "changed_at": "VARCHAR",
        "changed_by": "VARCHAR",
        "action": "VARCHAR",
        "reason": "VARCHAR",
        "raw_line": "VARCHAR",
        "parse_error": "VARCHAR",
    },
}

DAY_TABLES = ("k8s_deployments", "k8s_hpas", "k8s_rejects", "snapshot_manifest")


def _arrow_type(sql_type: str):
    import pyarrow as pa

    return {
        "DATE": pa.date32(),
        "VARCHAR": pa.string(),
        "TIMESTAMP": pa.timestamp("us"),
        "BIGINT": pa.int64(),
    }[sql_type]


@contextmanager
def connect(path: Path, read_only: bool = False):
    import duckdb  # heavy: imported at run time only

    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def ensure_raw_schema(con) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    for table, columns in RAW_TABLES.items():
        column_sql = ", ".join(f"{name} {sql_type}" for name, sql_type in columns.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{table} ({column_sql})")


def arrow_schema(table: str):
    import pyarrow as pa

    return pa.schema([(name, _arrow_type(sql_type)) for name, sql_type in RAW_TABLES[table].items()])


def _arrow_batch(table: str, rows: list[dict]):
    import pyarrow as pa

    columns = RAW_TABLES[table]
    return pa.RecordBatch.from_pylist([{name: row.get(name) for name in columns} for row in rows], arrow_schema(table))


def insert_rows(con, table: str, rows: list[dict]) -> int:
    """Bulk insert through an Arrow record batch: one statement instead of one per row."""
    if not rows:
        return 0
    batch = _arrow_batch(table, rows)
    con.register("_replica_ledger_batch", batch)
    try:
        columns = ", ".join(RAW_TABLES[table])
        con.execute(f"INSERT INTO {RAW_SCHEMA}.{table} ({columns}) SELECT {columns} FROM _replica_ledger_batch")
    finally:
        con.unregister("_replica_ledger_batch")
    return len(rows)


class DuckDBDaySink:
    """A `raw.day.DaySink` writing into an open transaction that replaces one day."""

    def __init__(self, con, day: date) -> None:
        self.con = con
        self.day = day

    def begin_cluster(self, cluster: str) -> None:
        """Nothing to mark: a cluster's rows are found again by (day, cluster)."""

    def write(self, table: str, rows: list[dict]) -> None:
        insert_rows(self.con, table, rows)

    def discard_cluster(self, cluster: str) -> None:
        for table in DAY_TABLES:
            self.con.execute(
                f"DELETE FROM {RAW_SCHEMA}.{table} WHERE snapshot_date = ? AND cluster = ?", [self.day, cluster]
            )


@contextmanager
def replacing_day(con, day: date):
    """A sink whose rows replace every raw row of `day`, in one transaction (all or nothing)."""
    con.execute("BEGIN TRANSACTION")
    try:
        for table in DAY_TABLES:
            con.execute(f"DELETE FROM {RAW_SCHEMA}.{table} WHERE snapshot_date = ?", [day])
        yield DuckDBDaySink(con, day)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def replace_day(con, day: date, rows_by_table: dict[str, list[dict]]) -> dict[str, int]:
    """Atomically replace every raw row of `day` with rows already in memory; row count per table."""
    with replacing_day(con, day) as sink:
        for table in DAY_TABLES:
            sink.write(table, rows_by_table.get(table, []))
    return {table: len(rows_by_table.get(table, [])) for table in DAY_TABLES}


def replace_change_log(con, rows: Iterable[dict]) -> int:
    """The change log is append-only upstream, so a full reload is both simple and exact."""
    rows = list(rows)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {RAW_SCHEMA}.ped_limit_changes")
        count = insert_rows(con, "ped_limit_changes", rows)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return count

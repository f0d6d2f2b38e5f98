"""The embedded DuckDB warehouse: raw tables and the idempotent per-day load.

A day's load deletes that day's rows and inserts the new ones in one transaction, so a
re-run replaces the day and never appends a second copy. The rows arrive streamed into
NDJSON temp files (the same files the BigQuery sink uploads) and DuckDB's own JSON reader
inserts them: measured, this keeps a 100k-Deployment day at ~155 MB peak RSS, flat in the
file size, where Arrow record batches grew with it (DuckDB kept the uncommitted appends,
and pyarrow's list conversion imports pandas: +60 MB). DuckDB allows one writer per file:
the DAG serializes every task that opens it through a one-slot pool.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import date
from pathlib import Path

RAW_SCHEMA = "raw"
# DuckDB's memory during a load (it spills beyond); see limit_load_memory.
LOAD_MEMORY_LIMIT = "128MB"
# How raw.ndjson writes TIMESTAMP values (naive UTC).
NDJSON_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

# Column order and types of each raw table. Keep in step with the sources YAML of each
# folder under dbt_project/models/staging/ (e.g. staging/k8s/_k8s__sources.yml).
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
    # The Kubernetes audit log (replica_ledger.audit): one row per write to a Deployment or
    # HPA in scope, and the entries that could not be read. snapshot_date = the day loaded
    # under (the write's UTC day, or its dt= folder): the load day key of every day table.
    "k8s_audit_events": {
        "snapshot_date": "DATE",
        "audit_id": "VARCHAR",
        "changed_at": "TIMESTAMP",
        "cluster": "VARCHAR",
        "namespace": "VARCHAR",
        "object_kind": "VARCHAR",
        "object_name": "VARCHAR",
        "deployment": "VARCHAR",
        "method": "VARCHAR",
        "verb": "VARCHAR",
        "subresource": "VARCHAR",
        "principal": "VARCHAR",
        "user_agent": "VARCHAR",
        "tool": "VARCHAR",
        "is_controller": "BOOLEAN",
        "field": "VARCHAR",
        "new_value": "BIGINT",
        "source_format": "VARCHAR",
    },
    "k8s_audit_rejects": {
        "snapshot_date": "DATE",
        "cluster": "VARCHAR",
        "source": "VARCHAR",
        "line_number": "BIGINT",
        "changed_at": "TIMESTAMP",
        "principal": "VARCHAR",
        "method": "VARCHAR",
        "reason": "VARCHAR",
        "entry_json": "VARCHAR",
    },
    # The load record (raw.record): one row per loaded day, replaced with the day's rows.
    "day_loads": {
        "snapshot_date": "DATE",
        "fingerprint": "VARCHAR",
        "source_files": "VARCHAR",
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

DAY_TABLES = (
    "k8s_deployments",
    "k8s_hpas",
    "k8s_rejects",
    "snapshot_manifest",
    "k8s_audit_events",
    "k8s_audit_rejects",
    "day_loads",
)


def _arrow_type(sql_type: str):
    import pyarrow as pa

    return {
        "DATE": pa.date32(),
        "VARCHAR": pa.string(),
        "TIMESTAMP": pa.timestamp("us"),
        "BIGINT": pa.int64(),
        "BOOLEAN": pa.bool_(),
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


def insert_rows(con, table: str, rows: list[dict]) -> int:
    """Bulk insert of rows already in memory through Arrow (tools and benchmarks; the load streams)."""
    import pyarrow as pa

    if not rows:
        return 0
    columns = RAW_TABLES[table]
    schema = pa.schema([(name, _arrow_type(sql_type)) for name, sql_type in columns.items()])
    batch = pa.Table.from_pylist([{name: row.get(name) for name in columns} for row in rows], schema)
    con.register("_replica_ledger_batch", batch)
    try:
        names = ", ".join(columns)
        con.execute(f"INSERT INTO {RAW_SCHEMA}.{table} ({names}) SELECT {names} FROM _replica_ledger_batch")
    finally:
        con.unregister("_replica_ledger_batch")
    return len(rows)


def limit_load_memory(con) -> None:
    """Bound DuckDB's memory for a load: it spills to `<db>.tmp` instead of growing with the day.

    One thread, because a load is one INSERT after the other and a second thread only adds
    its own buffers. Measured with bench/bench_load_memory.py (peak RSS flat in the file size).
    """
    con.execute("SET threads = 1")
    con.execute(f"SET memory_limit = '{LOAD_MEMORY_LIMIT}'")


def insert_ndjson(con, table: str, path: Path) -> int:
    """Insert a file of NDJSON rows (`raw.ndjson`) with DuckDB's own reader: streamed, typed by RAW_TABLES."""
    columns = RAW_TABLES[table]
    spec = "{" + ", ".join(f"'{name}': '{sql_type}'" for name, sql_type in columns.items()) + "}"
    names = ", ".join(columns)
    (count,) = con.execute(
        f"INSERT INTO {RAW_SCHEMA}.{table} ({names}) SELECT {names} FROM read_json(?, "
        f"format = 'newline_delimited', columns = {spec}, timestampformat = '{NDJSON_TIMESTAMP_FORMAT}')",
        [str(path)],
    ).fetchone()
    return count


@contextmanager
def _transaction(con):
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@contextmanager
def replacing_day(con, day: date):
    """A `raw.day.DaySink` whose rows replace every raw row of `day` when the block ends.

    Rows are streamed into NDJSON temp files (memory stays flat; a bad file's rows are cut
    off there), then, in ONE transaction, the day is deleted and the files inserted: a
    reader sees the old day or the new one, never a mix, and a failure changes nothing.
    """
    from replica_ledger.raw.ndjson import NdjsonDayFiles

    with NdjsonDayFiles() as files:
        yield files
        with _transaction(con):
            for table in DAY_TABLES:
                con.execute(f"DELETE FROM {RAW_SCHEMA}.{table} WHERE snapshot_date = ?", [day])
                insert_ndjson(con, table, files.path(table))


def load_records(con, first: date, last: date) -> tuple[dict[date, str], date | None]:
    """day -> fingerprint of its last load (raw.record) for the days first..last that have
    one, and the first day ever loaded (None before the first load)."""
    rows = con.execute(
        f"SELECT snapshot_date, fingerprint FROM {RAW_SCHEMA}.day_loads WHERE snapshot_date BETWEEN ? AND ?",
        [first, last],
    ).fetchall()
    (first_loaded,) = con.execute(f"SELECT min(snapshot_date) FROM {RAW_SCHEMA}.day_loads").fetchone()
    return dict(rows), first_loaded


class ChangeLogShrank(RuntimeError):
    """The PED change log lost or rewrote rows the warehouse already holds (it is append-only)."""


def _line_content(raw_line: str | None) -> str | None:
    # A byte order mark is encoding, not content: an older load kept it on the first line.
    return None if raw_line is None else raw_line.lstrip("\ufeff").strip()


def check_change_log(con, rows: list[dict], source: str = "the PED change log") -> None:
    """Refuse a change log that is shorter than what the warehouse holds, or rewrote a held row.

    The log is append-only (contract §1.2), so an empty, truncated or edited file is a
    broken copy, not news: loading it would drop approved limits, and every Deployment of
    a dropped API would be judged unregistered and its team alerted. Raises before anything
    is replaced.
    """
    query = f"SELECT raw_line FROM {RAW_SCHEMA}.ped_limit_changes ORDER BY arrival_seq"
    held = [_line_content(line) for (line,) in con.execute(query).fetchall()]
    if len(rows) < len(held):
        raise ChangeLogShrank(
            f"{source} has {len(rows)} rows but the warehouse already holds {len(held)}: the log is "
            "append-only, so the file is empty or truncated; nothing was loaded or rebuilt. Restore the "
            f"file, or, if it was rewritten on purpose, empty {RAW_SCHEMA}.ped_limit_changes and run again."
        )
    for position, (before, row) in enumerate(zip(held, rows, strict=False), start=1):
        if before != _line_content(row.get("raw_line")):
            raise ChangeLogShrank(
                f"{source}: row {position} of {len(rows)} differs from the row {position} of {len(held)} "
                "the warehouse already holds: the log is append-only, so earlier rows must not change; "
                "nothing was loaded or rebuilt. Restore the file, or, if it was rewritten on purpose, "
                f"empty {RAW_SCHEMA}.ped_limit_changes and run again."
            )


def replace_change_log(con, rows: Iterable[dict], source: str = "the PED change log") -> int:
    """The change log is append-only upstream, so a full reload is both simple and exact.

    `check_change_log` guards it: a log with fewer rows than held, or a changed earlier
    row, raises `ChangeLogShrank` and the held rows stay.
    """
    from replica_ledger.raw.ndjson import ndjson_line

    rows = list(rows)
    check_change_log(con, rows, source)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", prefix="replica-ledger-changes-", encoding="utf-8") as file:
        file.writelines(ndjson_line("ped_limit_changes", row) for row in rows)
        file.flush()
        with _transaction(con):
            con.execute(f"DELETE FROM {RAW_SCHEMA}.ped_limit_changes")
            return insert_ndjson(con, "ped_limit_changes", Path(file.name))

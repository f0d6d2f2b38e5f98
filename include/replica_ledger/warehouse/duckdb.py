"""The embedded DuckDB warehouse (the local path): raw tables, the per-day load, queries, alert_log
and limit_raise_log.

A day's load deletes that day's rows and inserts the new ones in one transaction, so a
re-run replaces the day and never appends a second copy. The rows arrive streamed into
NDJSON temp files (the same files the BigQuery sink uploads) and DuckDB's own JSON reader
inserts them: the load's memory stays flat in the file size, where Arrow record batches
grew with it (DuckDB kept the uncommitted appends; bench/bench_load_memory.py measures
it). DuckDB allows one writer per file: the DAG serializes every task that opens it
through a one-slot pool.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from replica_ledger.alerts.ledger import (
    COLUMN_LIST,
    COLUMNS,
    TABLE,
    AlertLogRecord,
    Claim,
    check_confirm_status,
    new_claim,
    utcnow,
)
from replica_ledger.alerts.model import Episode
from replica_ledger.alerts.raise_log import (
    RAISE_COLUMN_LIST,
    RAISE_COLUMNS,
    RAISE_TABLE,
    RaiseClaim,
    RaiseLogRecord,
    claim_rows,
)
from replica_ledger.raw.ndjson import NdjsonDayFiles, ndjson_line
from replica_ledger.raw.record import LoadHistory, PedArrival, Recorded, parse_changed_on
from replica_ledger.raw.schema import DAY_TABLES, NDJSON_TIMESTAMP_FORMAT, RAW_TABLES
from replica_ledger.warehouse.base import MissingTable

NAME = "duckdb"
RAW_SCHEMA = "raw"
# DuckDB's memory during a load (it spills beyond); see limit_load_memory.
LOAD_MEMORY_LIMIT = "128MB"


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
        # A column added since the file was made (a warehouse built before it) is added, null.
        for name, sql_type in columns.items():
            con.execute(f"ALTER TABLE {RAW_SCHEMA}.{table} ADD COLUMN IF NOT EXISTS {name} {sql_type}")


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
    with NdjsonDayFiles() as files:
        yield files
        with _transaction(con):
            for table in DAY_TABLES:
                con.execute(f"DELETE FROM {RAW_SCHEMA}.{table} WHERE snapshot_date = ?", [day])
                insert_ndjson(con, table, files.path(table))


def load_history(con, first: date, last: date, day: date) -> LoadHistory:
    """The load records (raw.record) of the days first..last, the first day ever loaded, and
    the PED rows the last load of another day than `day` knew of."""
    rows = _rows(
        con.execute(
            f"SELECT * FROM {RAW_SCHEMA}.day_loads WHERE snapshot_date BETWEEN ? AND ?",
            [first, last],
        )
    )
    first_loaded, ped_seen = con.execute(
        f"SELECT min(snapshot_date), max(ped_seen) FILTER (WHERE snapshot_date <> ?) FROM {RAW_SCHEMA}.day_loads",
        [day],
    ).fetchone()
    records = {row["snapshot_date"]: Recorded.of_row(row) for row in rows}
    return LoadHistory(records=records, first_loaded=first_loaded, ped_seen=ped_seen)


def load_record(con, day: date) -> Recorded | None:
    """`day`'s load record, None when the day was never loaded."""
    rows = _rows(con.execute(f"SELECT * FROM {RAW_SCHEMA}.day_loads WHERE snapshot_date = ?", [day]))
    return Recorded.of_row(rows[0]) if rows else None


def ped_arrivals(change_rows: list[dict], since: int | None) -> tuple[list[PedArrival], int | None]:
    """The change log's rows after arrival_seq `since` (none when nothing was seen before:
    the first build reads them all), and its highest arrival_seq."""
    seen = max((row["arrival_seq"] for row in change_rows), default=None)
    if since is None:
        return [], seen
    arrivals = [
        PedArrival(row["arrival_seq"], row.get("change_id"), parse_changed_on(row.get("changed_at")))
        for row in change_rows
        if row["arrival_seq"] > since
    ]
    return arrivals, seen


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
    rows = list(rows)
    check_change_log(con, rows, source)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", prefix="replica-ledger-changes-", encoding="utf-8") as file:
        file.writelines(ndjson_line("ped_limit_changes", row) for row in rows)
        file.flush()
        with _transaction(con):
            con.execute(f"DELETE FROM {RAW_SCHEMA}.ped_limit_changes")
            return insert_ndjson(con, "ped_limit_changes", Path(file.name))


# --------------------------------------------------------------------------- the Warehouse


def _rows(cursor) -> list[dict]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _is_missing_table(error: Exception) -> bool:
    import duckdb

    if isinstance(error, duckdb.CatalogException):
        return True
    # A column an older build of the model does not have ("Referenced column ... not found").
    return isinstance(error, duckdb.BinderException) and "not found" in str(error)


class _DuckDBLoad:
    """A `base.RawLoad` on one open connection."""

    def __init__(self, con, change_rows: list[dict] | None = None) -> None:
        self._con = con
        self._change_rows = change_rows or []
        self.summary: dict = {}

    def load_history(self, first: date, last: date, day: date) -> LoadHistory:
        return load_history(self._con, first, last, day)

    def ped_arrivals(self, since: int | None) -> tuple[list[PedArrival], int | None]:
        return ped_arrivals(self._change_rows, since)

    def replacing_day(self, day: date):
        return replacing_day(self._con, day)


class DuckDBWarehouse:
    """`base.Warehouse` on the DuckDB file of the settings (REPLICA_LEDGER_DUCKDB).

    Each call opens its own short-lived connection, so the file is not held between calls
    (dbt, in the same process, opens it too). Not read-only: DuckDB refuses a second
    connection to a file with another configuration.
    """

    name = NAME

    def __init__(self, settings) -> None:
        self.settings = settings
        self.path = Path(settings.duckdb_path)

    def writable_problem(self) -> str | None:
        """DuckDB writes the file, its WAL and its lock in the file's folder: tried with a real
        file there (permissions, a read-only mount, and root, whom permission bits do not stop)."""
        from replica_ledger.settings import DUCKDB_VAR, LOCAL_DIR_VAR

        folder = self.path.parent
        existing = next((path for path in (folder, *folder.parents) if path.exists()), None)
        where = f"the warehouse {self.path} ({DUCKDB_VAR} or {LOCAL_DIR_VAR})"
        if existing is None or not existing.is_dir():
            return f"{where}: {existing or folder} is not a folder"
        try:
            with tempfile.TemporaryFile(dir=existing):
                pass
        except OSError as exc:
            return f"{where}: cannot write in {existing} ({exc.strerror or exc})"
        return None

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict]:
        with connect(self.path) as con:
            try:
                return _rows(con.execute(sql, list(params or [])))
            except Exception as error:
                if _is_missing_table(error):
                    raise MissingTable(str(error)) from error
                raise

    @contextmanager
    def loading(self) -> Iterator[_DuckDBLoad]:
        """Each day in its own transaction, then the PED change log reloaded whole.

        A broken change log (shorter than held, or an earlier row rewritten) stops the load
        before any day is replaced."""
        from replica_ledger import changelog

        source = str(self.settings.ped_changes)
        change_rows = list(changelog.read_change_log(self.settings.ped_changes))
        with connect(self.path) as con:
            limit_load_memory(con)
            ensure_raw_schema(con)
            check_change_log(con, change_rows, source)
            changelog.check_registry(change_rows, source, allow_empty=self.settings.allow_empty_registry)
            load = _DuckDBLoad(con, change_rows)
            yield load
            changes = replace_change_log(con, change_rows, source)
        load.summary = {
            "rows": {"ped_limit_changes": changes},
            "unparseable_change_rows": sum(1 for row in change_rows if row["parse_error"]),
        }

    def alert_log(self) -> DuckDBAlertLog:
        return DuckDBAlertLog(self.path)

    def raise_log(self) -> DuckDBRaiseLog:
        return DuckDBRaiseLog(self.path)

    def load_record(self, day: date) -> Recorded | None:
        with connect(self.path) as con:
            try:
                return load_record(con, day)
            except Exception as error:
                if _is_missing_table(error):
                    return None
                raise

    def statement_log(self) -> DuckDBStatementLog:
        return DuckDBStatementLog(self.path)

    def dbt_environment(self) -> dict[str, str]:
        # The DuckDB target keeps its own raw schema name (`raw`); the file is the settings'.
        return {}


# --------------------------------------------------------------------------- alert_log

DUCKDB_SCHEMA = "main"
DUCKDB_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {DUCKDB_SCHEMA};
CREATE TABLE IF NOT EXISTS {DUCKDB_SCHEMA}.{TABLE} (
    snapshot_date      DATE NOT NULL,
    cluster            VARCHAR NOT NULL,
    namespace          VARCHAR NOT NULL,
    deployment         VARCHAR NOT NULL,
    breach_type        VARCHAR NOT NULL,
    episode_started_on DATE NOT NULL,
    route              VARCHAR NOT NULL,
    status             VARCHAR NOT NULL CHECK (status IN ('failed', 'sent', 'outbox')),
    sent_at            TIMESTAMP,
    message_hash       VARCHAR,
    episode_key        VARCHAR NOT NULL,
    team               VARCHAR,
    run_id             VARCHAR NOT NULL,
    claim_token        VARCHAR NOT NULL,
    claimed_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (route, cluster, namespace, deployment, breach_type, episode_started_on)
);
"""


class _DuckDBLedger:
    """A ledger table in DuckDB (created by ``_DDL`` if missing) on an open ``duckdb``
    connection (used as is, never closed here) or a database path (a short-lived connection
    per operation, so the file is not held locked between calls)."""

    _DDL = ""
    _TABLE = ""

    def __init__(self, conn_or_path: Any) -> None:
        if isinstance(conn_or_path, str | Path):
            self._path: str | None = str(conn_or_path)
            self._conn = None
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        else:
            self._path = None
            self._conn = conn_or_path
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute(self._DDL)

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        with self._lock:
            if self._conn is not None:
                yield self._conn
                return
            import duckdb

            con = duckdb.connect(self._path)
            try:
                yield con
            finally:
                con.close()

    def release(self, token: str) -> None:
        """Give up a claim: its rows go."""
        with self._connect() as con:
            con.execute(f"DELETE FROM {DUCKDB_SCHEMA}.{self._TABLE} WHERE claim_token = ?", [token])


class _MessageLedger(_DuckDBLedger):
    """A ledger whose confirmation records the message sent (alert_log, limit_raise_log)."""

    def confirm(self, token: str, *, status: str, message_hash: str, sent_at: datetime | None = None) -> None:
        check_confirm_status(status)
        with self._connect() as con:
            con.execute(
                f"UPDATE {DUCKDB_SCHEMA}.{self._TABLE} SET status = ?, sent_at = ?, message_hash = ?"
                " WHERE claim_token = ?",
                [status, sent_at or utcnow(), message_hash, token],
            )


class DuckDBAlertLog(_MessageLedger):
    """:class:`AlertLog` in DuckDB (``main.alert_log``, created if missing).

    Give it an open ``duckdb`` connection or a database path (``_DuckDBLedger``). A claim
    commits before anything is posted.
    """

    _DDL = DUCKDB_DDL
    _TABLE = TABLE

    def _select(self, con, where: str, params: list) -> list[AlertLogRecord]:
        rows = con.execute(
            f"SELECT {COLUMN_LIST} FROM {DUCKDB_SCHEMA}.{TABLE} WHERE {where} ORDER BY route, episode_key", params
        ).fetchall()
        return [AlertLogRecord(*row) for row in rows]

    def _insert_claims(self, con, rows: list[dict[str, Any]]) -> None:
        placeholders = ", ".join("?" for _ in COLUMNS)
        con.execute("BEGIN TRANSACTION")
        try:
            for row in rows:
                con.execute(
                    f"INSERT INTO {DUCKDB_SCHEMA}.{TABLE} ({COLUMN_LIST}) VALUES ({placeholders}) "
                    "ON CONFLICT DO NOTHING",
                    [row[name] for name in COLUMNS],
                )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise

    def claim(self, *, route, run_id, snapshot_date, episodes, message_hash) -> Claim:
        import duckdb

        token, rows = new_claim(route, run_id, snapshot_date, episodes, message_hash)
        with self._connect() as con:
            for attempt in range(3):
                try:
                    self._insert_claims(con, rows)
                    break
                except (duckdb.TransactionException, duckdb.ConstraintException):
                    # Another connection committed a row for the same key while our
                    # transaction ran (ON CONFLICT only sees committed rows): nothing of ours
                    # was written; retry, and ON CONFLICT DO NOTHING now sees its rows.
                    if attempt == 2:
                        raise
            ours = {rec.key for rec in self._select(con, "claim_token = ?", [token])}
            held = self._find(con, route, [ep for ep in episodes if ep.key not in ours])
        return Claim(token, ours, held)

    def _find(self, con, route: str, episodes: Iterable[Episode]) -> dict:
        keys = [ep.episode_key for ep in episodes]
        if not keys:
            return {}
        found = self._select(con, "route = ? AND list_contains(?, episode_key)", [route, keys])
        return {rec.key: rec for rec in found}

    def find(self, route: str, episodes: Iterable[Episode]) -> dict:
        """Episode key -> its alert_log row for ``route``, for those of ``episodes`` that have one."""
        with self._connect() as con:
            return self._find(con, route, list(episodes))

    def records(self, route: str | None = None) -> list[AlertLogRecord]:
        with self._connect() as con:
            if route is None:
                return self._select(con, "true", [])
            return self._select(con, "route = ?", [route])


# --------------------------------------------------------------------------- limit_raise_log

RAISE_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {DUCKDB_SCHEMA};
CREATE TABLE IF NOT EXISTS {DUCKDB_SCHEMA}.{RAISE_TABLE} (
    change_id     VARCHAR NOT NULL,
    namespace     VARCHAR NOT NULL,
    deployment    VARCHAR NOT NULL,
    route         VARCHAR NOT NULL,
    status        VARCHAR NOT NULL CHECK (status IN ('failed', 'sent', 'outbox')),
    sent_at       TIMESTAMP,
    message_hash  VARCHAR,
    snapshot_date DATE NOT NULL,
    run_id        VARCHAR NOT NULL,
    claim_token   VARCHAR NOT NULL,
    claimed_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (route, change_id)
);
"""


class DuckDBRaiseLog(_MessageLedger):
    """:class:`alerts.raise_log.RaiseLog` in DuckDB (``main.limit_raise_log``, created if
    missing): the claim is alert_log's (``INSERT ... ON CONFLICT DO NOTHING`` on the primary
    key, in one transaction, retried when a concurrent one committed first)."""

    _DDL = RAISE_DDL
    _TABLE = RAISE_TABLE

    def _select_raises(self, con, where: str, params: list) -> list[RaiseLogRecord]:
        rows = con.execute(
            f"SELECT {RAISE_COLUMN_LIST} FROM {DUCKDB_SCHEMA}.{RAISE_TABLE} WHERE {where} ORDER BY route, change_id",
            params,
        ).fetchall()
        return [RaiseLogRecord(*row) for row in rows]

    def claim(self, *, route, run_id, snapshot_date, raises, message_hash) -> RaiseClaim:
        import duckdb

        token, rows = claim_rows(route, run_id, snapshot_date, raises, message_hash)
        placeholders = ", ".join("?" for _ in RAISE_COLUMNS)
        with self._connect() as con:
            for attempt in range(3):
                con.execute("BEGIN TRANSACTION")
                try:
                    for row in rows:
                        con.execute(
                            f"INSERT INTO {DUCKDB_SCHEMA}.{RAISE_TABLE} ({RAISE_COLUMN_LIST}) VALUES ({placeholders})"
                            " ON CONFLICT DO NOTHING",
                            [row[name] for name in RAISE_COLUMNS],
                        )
                    con.execute("COMMIT")
                    break
                except Exception as error:
                    con.execute("ROLLBACK")
                    # A concurrent claim committed the same key first: retry, and ON
                    # CONFLICT DO NOTHING then skips its rows.
                    retry = isinstance(error, duckdb.TransactionException | duckdb.ConstraintException)
                    if not retry or attempt == 2:
                        raise
            ours = {rec.change_id for rec in self._select_raises(con, "claim_token = ?", [token])}
            others = [r.change_id for r in raises if r.change_id not in ours]
            held = self._find_raises(con, route, others)
        return RaiseClaim(token, ours, held)

    def _find_raises(self, con, route: str, change_ids: list[str]) -> dict[str, RaiseLogRecord]:
        if not change_ids:
            return {}
        found = self._select_raises(con, "route = ? AND list_contains(?, change_id)", [route, change_ids])
        return {rec.change_id: rec for rec in found}

    def find(self, route: str, change_ids) -> dict[str, RaiseLogRecord]:
        with self._connect() as con:
            return self._find_raises(con, route, list(change_ids))

    def records(self) -> list[RaiseLogRecord]:
        with self._connect() as con:
            return self._select_raises(con, "true", [])


# --------------------------------------------------------------------------- statement_log

STATEMENT_LOG_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {DUCKDB_SCHEMA};
CREATE TABLE IF NOT EXISTS {DUCKDB_SCHEMA}.statement_log (
    billing_month DATE NOT NULL,
    team          VARCHAR NOT NULL,
    team_version  BIGINT NOT NULL,
    route         VARCHAR NOT NULL,
    status        VARCHAR NOT NULL CHECK (status IN ('failed', 'sent', 'outbox', 'withheld')),
    sent_at       TIMESTAMP,
    message_hash  VARCHAR,
    run_id        VARCHAR NOT NULL,
    claim_token   VARCHAR NOT NULL,
    claimed_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (route, billing_month, team, team_version)
);
"""


class DuckDBStatementLog(_DuckDBLedger):
    """`statements.ledger.StatementLog` in DuckDB (``main.statement_log``, created if missing):
    the claim is an ``INSERT ... ON CONFLICT DO NOTHING`` on the natural key, as alert_log's."""

    _DDL = STATEMENT_LOG_DDL
    _TABLE = "statement_log"

    def claim(self, *, route, month, team, version, run_id, message_hash, status) -> str | None:
        from replica_ledger.statements import ledger

        ledger.check_status(status, ("failed", "withheld"))
        token = ledger.new_token()
        with self._connect() as con:
            con.execute(
                f"INSERT INTO {DUCKDB_SCHEMA}.statement_log ({ledger.COLUMN_LIST})"
                " VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [month, team, version, route, status, message_hash, run_id, token, ledger.utcnow()],
            )
            (ours,) = con.execute(
                f"SELECT count(*) FROM {DUCKDB_SCHEMA}.statement_log WHERE claim_token = ?", [token]
            ).fetchone()
        return token if ours else None

    def confirm(self, token: str, *, status: str) -> None:
        from replica_ledger.statements import ledger

        ledger.check_status(status, ledger.CONFIRMED_STATUSES)
        with self._connect() as con:
            con.execute(
                f"UPDATE {DUCKDB_SCHEMA}.statement_log SET status = ?, sent_at = ? WHERE claim_token = ?",
                [status, ledger.utcnow(), token],
            )

    def records(self) -> list:
        from replica_ledger.statements import ledger

        with self._connect() as con:
            rows = con.execute(
                f"SELECT {ledger.COLUMN_LIST} FROM {DUCKDB_SCHEMA}.statement_log"
                " ORDER BY billing_month, team, team_version, route"
            ).fetchall()
        return [ledger.StatementLogRecord(*row) for row in rows]

"""BigQuery emulator server for the tests: local-bigquery, patched, on 127.0.0.1.

Runs INSIDE .venv/bq (Python 3.13, `make .venv/bq/.installed`), started as a subprocess by
tooling/emulators/bigquery.py:

    .venv/bq/bin/python tooling/emulators/bigquery_server.py --port 9050 --data-dir DIR

The patches below teach local-bigquery what the project relies on and it lacks. They reach
into the emulator's private functions, so they are pinned to one version: any other
installed version refuses to start (update the lock file and re-check each patch together).

1. DuckDB extensions: offline, DuckDB cannot download ducklake/icu/spatial; the Makefile
   copies them from their PyPI wheels into .venv/bq/duckdb_extensions, given to every
   DuckDB connection here.
2. CTAS jobs report their destination table (configuration.query.destinationTable), as
   BigQuery does; dbt-bigquery reads the created table through it.
3. require_partition_filter is checked where BigQuery checks it: not inside the emulator's
   own rewrite of a MERGE (its internal SELECTs of the target have no WHERE), and not when
   a view is created (BigQuery checks the query that reads through the view).
4. `SET (a, b) = (SELECT AS STRUCT x, y ...)` assigns each variable its field (dbt's
   insert_overwrite with dynamic partitions uses it).
5. Load jobs into a partition decorator `table$YYYYMMDD` replace exactly that day partition
   (WRITE_TRUNCATE; an empty file empties it, WRITE_APPEND adds to it) and fail if a row
   belongs to another day, as BigQuery does. The rows are read as local-bigquery's own load
   reads them and written in one transaction (one DuckLake commit, not a staging table's
   three; the gain is in docs/benchmarks.md).
6. Anonymous query results expire, as BigQuery's do (after 24 hours there). The emulator
   keeps every job's result table forever in one DuckDB schema, and each catalog lookup
   (several per API call) lists every table: a month of daily dbt runs (~1,300 jobs) made
   each lookup some ten times slower by its end. The newest RESULTS_KEPT stay readable.
7. Catalog lookups are answered from a cache while the project's DuckLake catalog is
   unchanged. Every API call looks its tables up (DuckDB's duckdb_tables() and
   duckdb_columns() list the whole DuckLake catalog each time), and a dbt build makes
   thousands of such calls. The objects (with their row counts) are keyed by the newest
   DuckLake snapshot, which any change (DDL or data) commits; a table's columns by the
   newest schema_version, which only DDL moves, so an insert or a MERGE into one table
   leaves every table's columns cached. A miss reads the DuckLake catalog's own tables (the
   objects, the NOT NULL columns) instead of listing every catalog DuckDB has attached,
   which cost several times more. The job results' schema lives outside DuckLake and is
   never cached.
8. DuckDB's Python client looks for pandas on every execute() with parameters, and where
   pandas is not installed (this venv) each look searches sys.path again: the import
   machinery was among the emulator's busiest frames. pandas is marked absent once instead.
"""

from __future__ import annotations

import argparse
import collections
import contextvars
import datetime
import functools
import importlib.metadata
import re
import sys
import threading
from pathlib import Path

EMULATOR = "local-bigquery"
EMULATOR_VERSION = "0.3.2"
EXTENSION_DIR = Path(sys.prefix) / "duckdb_extensions"
PARTITION_DECORATOR = re.compile(r"^(?P<table>[^$]+)\$(?P<day>\d{8})$")
PARTITION_FILTER_ERROR = "without a filter over column(s)"
# Far more than any client here reads back: dbt and the product read a job's rows right away.
RESULTS_KEPT = 64


def check_version() -> None:
    installed = importlib.metadata.version(EMULATOR)
    if installed != EMULATOR_VERSION:
        raise SystemExit(
            f"{EMULATOR} {installed} is installed but the patches in {__file__} are for "
            f"{EMULATOR_VERSION}: re-check them before changing requirements/bq-emulator.in"
        )


# --------------------------------------------------------------------------- 1. extensions


def use_bundled_extensions() -> None:
    import duckdb

    connect = duckdb.connect

    @functools.wraps(connect)
    def connect_with_bundled_extensions(*args, config=None, **kwargs):
        config = dict(config or {})
        config.setdefault("extension_directory", str(EXTENSION_DIR))
        config.setdefault("autoinstall_known_extensions", False)  # fail fast, never download
        return connect(*args, config=config, **kwargs)

    duckdb.connect = connect_with_bundled_extensions


# --------------------------------------------------------------------------- 2. CTAS destination


def report_ctas_destination() -> None:
    from local_bigquery.jobs import runner
    from local_bigquery.models import TableReference

    run_query = runner._query

    def query_reporting_destination(job, session, running):
        statistics = run_query(job, session, running)
        query = statistics.query
        if query and query.statementType == "CREATE_TABLE_AS_SELECT" and query.ddlTargetTable:
            job.configuration.query.destinationTable = TableReference.model_validate(query.ddlTargetTable.dump())
        return statistics

    runner._query = query_reporting_destination


# --------------------------------------------------------------------------- 3. partition filter

_inside_merge_rewrite = contextvars.ContextVar("inside_merge_rewrite", default=False)


def check_partition_filter_like_bigquery() -> None:
    from local_bigquery.errors import BigQueryError
    from local_bigquery.jobs import merge
    from local_bigquery.sql.rules import tables as table_rules
    from sqlglot import exp

    check = table_rules._check
    run_merge = merge.run

    def check_where_bigquery_does(tree, table, is_target):
        try:
            check(tree, table, is_target)
        except BigQueryError as error:
            creates_view = isinstance(tree, exp.Create) and (tree.args.get("kind") or "").upper() == "VIEW"
            if PARTITION_FILTER_ERROR in error.message and (creates_view or _inside_merge_rewrite.get()):
                return
            raise

    def merge_without_partition_check(cur, tree, context):
        token = _inside_merge_rewrite.set(True)
        try:
            return run_merge(cur, tree, context)
        finally:
            _inside_merge_rewrite.reset(token)

    table_rules._check = check_where_bigquery_does
    merge.run = merge_without_partition_check


# --------------------------------------------------------------------------- 4. SET (...) = STRUCT


def set_variables_from_struct() -> None:
    import sqlglot
    from local_bigquery.sql import script
    from local_bigquery.sql.dialect import BigQueryDialect
    from sqlglot import exp

    assign = script.Interpreter.set

    def set_each_field(self, statement):
        tree = sqlglot.parse_one(statement.text, dialect=BigQueryDialect)
        items = tree.expressions
        if len(items) == 1:
            target, value = items[0].this.this, items[0].this.expression
            # `(a)` parses as Paren, `(a, b)` as Tuple: both are a list of variables here.
            variables = [target.this] if isinstance(target, exp.Paren) else getattr(target, "expressions", None)
            select = value.this if isinstance(value, exp.Subquery) else None
            if isinstance(target, exp.Paren | exp.Tuple) and isinstance(select, exp.Select) and select.args.get("kind"):
                select = select.copy()
                select.set("kind", None)  # SELECT AS STRUCT a, b -> SELECT a, b: one column per variable
                self.into(select, [variable.name for variable in variables])
                return
        assign(self, statement)

    script.Interpreter.set = set_each_field


# --------------------------------------------------------------------------- 5. decorator loads


def load_into_day_partition() -> None:
    from local_bigquery.catalog import datasets, names, tables
    from local_bigquery.errors import BigQueryError
    from local_bigquery.jobs import load, runner
    from local_bigquery.jobs.storage import literal, paths
    from local_bigquery.models import JobStatistics3, Table

    run_load = load.run

    def partition_field(config, reference) -> str:
        partitioning = config.timePartitioning
        if partitioning is None and tables.exists(*reference):
            partitioning = tables.load(*reference).timePartitioning
        if partitioning is None or not partitioning.field or (partitioning.type or "DAY") != "DAY":
            raise BigQueryError(
                "invalid", "The emulator only loads a $YYYYMMDD decorator into a table day-partitioned on a column"
            )
        return partitioning.field

    def replace_partition(cur, config, upload):
        destination = config.destinationTable
        match = PARTITION_DECORATOR.match(destination.tableId or "")
        if not match:
            return run_load(cur, config, upload)
        reference = (destination.projectId, destination.datasetId, match["table"])
        day = datetime.datetime.strptime(match["day"], "%Y%m%d").date()
        field = partition_field(config, reference)
        datasets.get(*reference[:2])
        locations, files, rows, total, rejected = _read_source(cur, config, upload)
        if rejected > (config.maxBadRecords or 0):
            return run_load(cur, config, upload)  # fails with load.run's own message, writing nothing
        with load._reading(locations):
            _write_partition(cur, config, reference, rows, field, day)
        count, size = cur.sql(f"SELECT count(*), coalesce(sum(size), 0) FROM read_blob({files})").fetchone()
        output = tables.logical_bytes(total - rejected, len(tables.columns(*reference)))
        return JobStatistics3(
            inputFiles=str(count),
            inputFileBytes=str(size),
            outputRows=str(total - rejected),
            outputBytes=str(output),
            badRecords=str(rejected),
        )

    def _read_source(cur, config, upload) -> tuple[dict, str, str, int, int]:
        """load.run's own reading of the source (the same projection, casts and bad records):
        the local files and their URIs, the files' list, the query of the good rows, the rows
        read and the bad ones among them."""
        uris = config.sourceUris or []
        locations = {upload: None} if upload else {path: uri for uri in uris for path in paths(cur, uri)}
        files = f"[{', '.join(map(literal, locations))}]"
        fields = (config.schema_ and config.schema_.fields) or []
        with load._reading(locations):
            reader = load._reader(cur, files, config, fields)
            projection, bad = load._projection(config, fields, cur.sql(f"SELECT * FROM {reader} LIMIT 0").columns)
            total, rejected = cur.sql(f"SELECT count(*), count(*) FILTER ({bad}) FROM {reader}").fetchone()
        return locations, files, f"SELECT {projection} FROM {reader} WHERE NOT ({bad})", total, rejected

    def _write_partition(cur, config, reference, rows, field, day):
        """The day's rows in place of the partition's, in one transaction: one DuckLake commit
        (staging them in a table of their own first cost two more, its creation and its drop)."""
        quoted_field = '"' + field.replace('"', '""') + '"'
        (outside,) = cur.sql(
            f"SELECT count(*) FROM ({rows}) WHERE {quoted_field} IS DISTINCT FROM DATE '{day.isoformat()}'"
        ).fetchone()
        if outside:
            raise BigQueryError(
                "invalid",
                f"Some rows belong to different partitions rather than destination partition {day:%Y%m%d}",
            )
        disposition = config.writeDisposition or "WRITE_APPEND"
        existed = tables.exists(*reference)
        target = tables.name(*reference)
        in_partition = f"{quoted_field} = DATE '{day.isoformat()}'"
        occupied = existed and cur.sql(f"SELECT 1 FROM {target} WHERE {in_partition}").fetchone()
        if disposition == "WRITE_EMPTY" and occupied:
            raise BigQueryError("duplicate", f"Partition {day:%Y%m%d} of {'.'.join(reference)} is not empty")
        appended = config.replace(writeDisposition="WRITE_APPEND")
        prefix = f"Provided Schema does not match Table {names.label(*reference)}. "
        cur.execute("BEGIN")
        try:
            if existed and disposition == "WRITE_TRUNCATE":
                cur.execute(f"DELETE FROM {target} WHERE {in_partition}")
            tables.write(cur, rows, None, reference, appended, "WRITE_APPEND", prefix)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        fields = (config.schema_ and config.schema_.fields) or []
        if not existed and fields:
            tables.annotate(reference, Table(schema=config.schema_))

    load.run = replace_partition
    runner.HANDLERS["load"] = replace_partition


# --------------------------------------------------------------------------- 6. results expire


def expire_old_results() -> None:
    from local_bigquery.catalog import tables
    from local_bigquery.engine import database

    newest: collections.deque[tuple[str, str]] = collections.deque()
    lock = threading.Lock()
    original_write = tables.write

    @functools.wraps(original_write)
    def write_and_expire(cur, query, params, reference, *args, **kwargs):
        created = original_write(cur, query, params, reference, *args, **kwargs)
        project_id, dataset_id, table_id = reference
        if dataset_id == tables.RESULTS:
            with lock:
                newest.append((project_id, table_id))
                expired = [newest.popleft() for _ in range(len(newest) - RESULTS_KEPT)]
            for old_project, old_job in expired:
                database.execute(f"DROP TABLE IF EXISTS {tables.name(old_project, tables.RESULTS, old_job)}")
        return created

    tables.write = write_and_expire


# --------------------------------------------------------------------------- 7. catalog cache

CATALOG_CACHE_SIZE = 4096


# What duckdb_tables()/duckdb_views() and duckdb_columns() say of one DuckLake schema, read
# from the DuckLake catalog's own tables: the live objects are those without an end snapshot.
DUCKLAKE_OBJECTS = """
SELECT t.table_name, 'TABLE', coalesce(stats.record_count, 0) FROM {m}.ducklake_table t
JOIN {m}.ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
LEFT JOIN {m}.ducklake_table_stats stats ON stats.table_id = t.table_id
WHERE t.end_snapshot IS NULL AND s.schema_name = $1 AND t.table_name = coalesce($2, t.table_name)
UNION ALL
SELECT v.view_name, 'VIEW', 0 FROM {m}.ducklake_view v
JOIN {m}.ducklake_schema s ON s.schema_id = v.schema_id AND s.end_snapshot IS NULL
WHERE v.end_snapshot IS NULL AND s.schema_name = $1 AND v.view_name = coalesce($2, v.view_name)
ORDER BY 1
"""
DUCKLAKE_REQUIRED_COLUMNS = """
SELECT c.column_name FROM {m}.ducklake_column c
JOIN {m}.ducklake_table t ON t.table_id = c.table_id AND t.end_snapshot IS NULL
JOIN {m}.ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
WHERE c.end_snapshot IS NULL AND c.parent_column IS NULL AND NOT c.nulls_allowed
  AND s.schema_name = $1 AND t.table_name = $2
"""


def cache_catalog_lookups() -> None:
    import duckdb
    from local_bigquery.catalog import names, tabledata, tables
    from local_bigquery.engine import database, types
    from local_bigquery.errors import not_found

    list_objects = database.objects
    read_columns = tables.columns
    cache: dict[tuple, object] = {}
    lock = threading.Lock()

    def newest(project: str, version: str) -> int | None:
        """The DuckLake catalog's newest snapshot_id or schema_version (None: not a DuckLake
        project, never cached)."""
        if project not in database._attached:
            return None
        return database.fetch(f"SELECT max({version}) FROM {metadata(project)}.ducklake_snapshot")[0][0]

    def cached(key: tuple, version: int | None, compute):
        if version is None:
            return compute()
        with lock:
            if (key, version) in cache:
                return cache[(key, version)]
        # Computed after the version was read: at least that new. A commit in between files the
        # newer answer under the older key, which no later lookup asks for again.
        value = compute()
        with lock:
            if len(cache) >= CATALOG_CACHE_SIZE:
                cache.clear()
            cache[(key, version)] = value
        return value

    def metadata(project: str) -> str:
        return database.quote(f"__ducklake_metadata_{project}")

    @functools.wraps(list_objects)
    def objects(project_id, dataset_id, table_id=None):
        snapshot = newest(project_id, "snapshot_id")
        if snapshot is None:
            return list_objects(project_id, dataset_id, table_id)
        sql = DUCKLAKE_OBJECTS.format(m=metadata(project_id))
        key = ("objects", project_id, dataset_id, table_id)
        return list(cached(key, snapshot, lambda: database.fetch(sql, [dataset_id, table_id])))

    def columns_of(project_id, dataset_id, table_id) -> list:
        """local_bigquery's tables.columns, its NOT NULL columns read from the DuckLake catalog."""
        database_name, schema_name, table_name = tables.physical(project_id, dataset_id, table_id)
        sql = DUCKLAKE_REQUIRED_COLUMNS.format(m=metadata(database_name))
        required = {column for (column,) in database.fetch(sql, [schema_name, table_name])}
        with database.cursor() as cur:
            try:
                relation = cur.sql(f"SELECT * FROM {tables.name(project_id, dataset_id, table_id)} LIMIT 0")
            except duckdb.CatalogException:
                raise not_found("Table", names.label(project_id, dataset_id, table_id)) from None
            return [
                types.field(column, kind, column in required)
                for column, kind in zip(relation.columns, relation.types, strict=True)
                if column != tables.INGESTION_TIME or dataset_id == tables.RESULTS
            ]

    @functools.wraps(read_columns)
    def columns(project_id, dataset_id, table_id):
        version = newest(tables.physical(project_id, dataset_id, table_id)[0], "schema_version")
        if version is None:
            return read_columns(project_id, dataset_id, table_id)
        key = ("columns", project_id, dataset_id, table_id)
        return list(cached(key, version, lambda: columns_of(project_id, dataset_id, table_id)))

    database.objects = objects
    tables.columns = columns
    tabledata.columns = columns  # imported by name there


# --------------------------------------------------------------------------- 8. pandas probe


def skip_the_pandas_probe() -> None:
    """DuckDB's client looks for pandas on every execute() with parameters; where it is not
    installed (as here), each look searches sys.path again. Marking it absent answers at once."""
    import importlib.util

    if importlib.util.find_spec("pandas") is None:
        sys.modules["pandas"] = None


# --------------------------------------------------------------------------- serve


def apply_patches() -> None:
    check_version()
    skip_the_pandas_probe()
    use_bundled_extensions()
    report_ctas_destination()
    check_partition_filter_like_bigquery()
    set_variables_from_struct()
    load_into_day_partition()
    expire_old_results()
    cache_catalog_lookups()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="local-bigquery, patched for replica-ledger, on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="REST port")
    parser.add_argument("--grpc-port", type=int, required=True, help="Storage Read API port")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--project", default="replica-ledger-dev")
    args = parser.parse_args(argv)
    apply_patches()
    from local_bigquery import cli

    cli.main(
        [
            "serve",
            "--host", "127.0.0.1",
            "--port", str(args.port),
            "--grpc-port", str(args.grpc_port),
            "--data-dir", str(args.data_dir),
            "--project", args.project,
        ]
    )  # fmt: skip


if __name__ == "__main__":
    main()

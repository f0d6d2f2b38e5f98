"""The real dbt project on dbt-bigquery, against the BigQuery emulator (tooling/emulators/bigquery.py).

A week of the demo month goes into the emulator the production way: every day through the
product's load step (one `table$YYYYMMDD` WRITE_TRUNCATE load job per raw table,
tests/dbt/bigquery_load.py), and the PED change log as a typed BigQuery table. Then
`dbt build` runs on the `bigquery_emulator` output of profiles.yml: a full rebuild
(seeds, models, unit tests), then the incremental facts again over the existing tables
(insert_overwrite of every partition). The marts must equal what the DuckDB target builds
from the same archive with the same two commands.

The week (Oct 8..14 but the 12th) holds the month's edits: the catalog raise reverted
within the hour, the payments HPA raised by hand a day before PED approved it, the orders
HPA raised to 8. The whole month on BigQuery, through the DAG's day runs (each replacing
its window's partitions), its close (every data test, then the bill) and the statements,
is tests/dags/test_demo_gcp.py's: its marts, the bill among them, equal the DuckDB month
row for row, and its report prints the bill from BigQuery.

What the emulator cannot tell: cost, slots and partition pruning (it scans everything;
test_bigquery_compile.py checks the filters), and require_partition_filter on views and
inside MERGE, which its patches relax (tooling/emulators/bigquery_server.py).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from replica_ledger import pipeline
from replica_ledger.dbt_runner import build_vars, run_window_environment
from replica_ledger.settings import Settings
from tests.dbt.bigquery_load import RAW_DATASET, load_ped_change_log, load_raw_day

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = REPO_ROOT / "dbt_project"
# Loading a day costs the emulator seconds; a week with one day missing is enough to compare.
DAYS = [date(2026, 10, 8) + timedelta(days=offset) for offset in range(7) if offset != 4]
DATASET = "replica_ledger"
DBT_TIMEOUT_S = 900

# Each mart read whole (the partition predicates satisfy require_partition_filter).
MARTS = {
    "fct_deployment_daily": "select * from {t} where snapshot_date >= date '2000-01-01'",
    "fct_replica_breaches": "select * from {t} where snapshot_date >= date '2000-01-01'",
    "fct_breach_episodes": "select * from {t}",
    "fct_breach_alerts": "select * from {t} where snapshot_date >= date '2000-01-01'",
    "dim_replica_limits": "select * from {t}",
    "mart_limit_raises": "select * from {t}",
}


def run_dbt(target_env: dict[str, str], work: Path, *args: str) -> list[dict]:
    """`dbt <args>` in a subprocess (own target folder); run_results.json's results. It must succeed."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("REPLICA_LEDGER_")}
    env.update(target_env)
    env.update({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"})
    env.update(run_window_environment(None))  # no run window: every day
    dbt = Path(sys.executable).with_name("dbt")
    command = [
        str(dbt), *args,
        "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--vars", build_vars(Settings()),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=DBT_TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return json.loads((work / "target" / "run_results.json").read_text())["results"]


def build_days(target_env: dict[str, str], work: Path) -> dict[str, list[dict]]:
    """The same two commands on both warehouses: a full build (tables created, every unit
    test), then the incremental facts rebuilt over existing tables (BigQuery:
    insert_overwrite of the partitions the query yields). The data tests on BigQuery run in
    demo-gcp's month close (tests/dags/test_demo_gcp.py), each a job on the emulator."""
    return {
        "full": run_dbt(target_env, work, "build", "--exclude-resource-type", "test"),
        "rebuild": run_dbt(target_env, work, "run", "--select", "config.materialized:incremental"),
    }


def normalised(value):
    """One spelling per value across the two warehouses (BigQuery timestamps come back aware)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    return value


def comparable(rows: list[dict]) -> list[dict]:
    normal = [{name: normalised(value) for name, value in row.items()} for row in rows]
    return sorted(normal, key=lambda row: repr(sorted(row.items())))


# ----------------------------------------------------------------------------- the two warehouses


@pytest.fixture(scope="module")
def on_bigquery(bigquery_emulator, tmp_path_factory) -> SimpleNamespace:
    """The demo week loaded into the emulator and built by dbt-bigquery."""
    work = tmp_path_factory.mktemp("dbt_bigquery_emulator")
    client = bigquery_emulator.client()
    client.create_dataset(RAW_DATASET, exists_ok=True)
    settings = Settings()
    for day in DAYS:
        load_raw_day(bigquery_emulator, settings, day)
    load_ped_change_log(client, settings.ped_changes)
    results = build_days(bigquery_emulator.dbt_env(), work)

    def fetch(sql: str) -> list[dict]:
        return [dict(row.items()) for row in client.query_and_wait(sql)]

    marts = {name: comparable(fetch(sql.format(t=f"{DATASET}.{name}"))) for name, sql in MARTS.items()}
    quarantine = fetch(f"select * from {DATASET}.fct_limit_change_quarantine")
    return SimpleNamespace(results=results, marts=marts, quarantine=quarantine, client=client)


@pytest.fixture(scope="module")
def on_duckdb(tmp_path_factory) -> SimpleNamespace:
    """The same archive and change log through the local path: DuckDB and dbt-duckdb."""
    import duckdb

    work = tmp_path_factory.mktemp("dbt_duckdb")
    settings = Settings(duckdb_path=work / "warehouse.duckdb")
    for day in DAYS:
        pipeline.load_day(settings, day)
    build_days({"REPLICA_LEDGER_DBT_TARGET": "duckdb", "REPLICA_LEDGER_DUCKDB": str(settings.duckdb_path)}, work)
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:

        def fetch(sql: str) -> list[dict]:
            cursor = con.execute(sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        marts = {name: comparable(fetch(sql.format(t=f"main.{name}"))) for name, sql in MARTS.items()}
        quarantine = fetch("select * from main.fct_limit_change_quarantine")
    return SimpleNamespace(marts=marts, quarantine=quarantine)


# ----------------------------------------------------------------------------- dbt on BigQuery


def test_full_build_and_rebuild_pass_every_node(on_bigquery):
    full = on_bigquery.results["full"]
    for result in full + on_bigquery.results["rebuild"]:
        if not result["unique_id"].startswith("exposure."):  # exposures report no-op
            assert result["status"] in ("success", "pass"), (result["unique_id"], result["status"], result["message"])
    kinds = [result["unique_id"].split(".")[0] for result in full]
    assert kinds.count("seed") == 2
    assert kinds.count("unit_test") >= 7
    assert kinds.count("model") >= 15
    assert len(on_bigquery.results["rebuild"]) >= 4  # the incremental facts and the bill


def test_the_hand_raised_payments_hpa_is_one_approved_raise_at_its_price(on_bigquery):
    (raise_,) = on_bigquery.marts["mart_limit_raises"]
    assert (raise_["deployment"], raise_["old_max_replicas"], raise_["new_max_replicas"]) == ("payments-api", 3, 6)
    assert (raise_["old_monthly_charge"], raise_["added_monthly_charge"]) == (265.5, 85.5)


@pytest.mark.parametrize("mart", MARTS)
def test_mart_equals_duckdb(on_bigquery, on_duckdb, mart):
    assert on_bigquery.marts[mart], f"{mart} is empty on BigQuery"
    assert on_bigquery.marts[mart] == on_duckdb.marts[mart]


def test_quarantine_equals_duckdb_but_for_lines_that_are_not_json(on_bigquery, on_duckdb):
    """The PED BigQuery table is typed: a line that is not a JSON object cannot be in it."""

    def reasons(rows: list[dict]) -> list[tuple]:
        return sorted(
            (row["arrival_seq"], row["change_id"], row["quarantine_reason"])
            for row in rows
            if row["quarantine_reason"] != "malformed_json"
        )

    assert any(row["quarantine_reason"] == "malformed_json" for row in on_duckdb.quarantine)
    assert len(on_bigquery.quarantine) == len(reasons(on_bigquery.quarantine)) > 0
    assert reasons(on_bigquery.quarantine) == reasons(on_duckdb.quarantine)


# ----------------------------------------------------------------------------- the emulator's decorator load


def load_partition(client, table: str, day: date, rows: list[dict], disposition: str = "WRITE_TRUNCATE"):
    """What the production loader sends: NDJSON into `table$YYYYMMDD`, day-partitioned on snapshot_date."""
    from google.cloud import bigquery

    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        write_disposition=disposition,
        time_partitioning=bigquery.TimePartitioning(field="snapshot_date"),
        clustering_fields=["cluster"],
        schema_update_options=[bigquery.SchemaUpdateOption.ALLOW_FIELD_ADDITION],
        schema=[
            bigquery.SchemaField("snapshot_date", "DATE"),
            bigquery.SchemaField("cluster", "STRING"),
            bigquery.SchemaField("replicas", "INTEGER"),
        ],
    )
    data = io.BytesIO("".join(json.dumps(row) + "\n" for row in rows).encode())
    return client.load_table_from_file(data, f"{table}${day:%Y%m%d}", job_config=config).result()


def test_decorator_load_replaces_exactly_its_day(bigquery_emulator):
    from google.api_core.exceptions import BadRequest, Conflict

    client = bigquery_emulator.client()
    dataset = client.create_dataset("decorator_load", exists_ok=True)
    table = f"{client.project}.{dataset.dataset_id}.k8s_rows"
    day, other_day = date(2026, 10, 11), date(2026, 10, 12)

    def content() -> list[tuple]:
        query = f"select snapshot_date, cluster, replicas from `{table}` order by 1, 2"
        return [tuple(row.values()) for row in client.query_and_wait(query)]

    load_partition(client, table, day, [{"snapshot_date": "2026-10-11", "cluster": c, "replicas": 3} for c in "ab"])
    load_partition(client, table, other_day, [{"snapshot_date": "2026-10-12", "cluster": "a", "replicas": 4}])
    assert client.get_table(table).time_partitioning.field == "snapshot_date"

    # A re-run of the day replaces that day only, however many rows it had.
    load_partition(client, table, day, [{"snapshot_date": "2026-10-11", "cluster": "c", "replicas": 5}])
    assert content() == [(day, "c", 5), (other_day, "a", 4)]

    # WRITE_APPEND adds to the day.
    load_partition(client, table, day, [{"snapshot_date": "2026-10-11", "cluster": "d", "replicas": 6}], "WRITE_APPEND")
    assert content() == [(day, "c", 5), (day, "d", 6), (other_day, "a", 4)]

    # A row of another day fails the job and changes nothing.
    with pytest.raises(BadRequest, match="different partitions"):
        load_partition(client, table, day, [{"snapshot_date": "2026-10-12", "cluster": "x", "replicas": 9}])
    assert content() == [(day, "c", 5), (day, "d", 6), (other_day, "a", 4)]

    # WRITE_EMPTY into a day that has rows fails and changes nothing.
    with pytest.raises(Conflict, match="not empty"):
        load_partition(
            client, table, other_day, [{"snapshot_date": "2026-10-12", "cluster": "y", "replicas": 1}], "WRITE_EMPTY"
        )
    assert content() == [(day, "c", 5), (day, "d", 6), (other_day, "a", 4)]

    # A row that does not fit the schema is a bad record: the job fails and changes nothing.
    with pytest.raises(BadRequest, match="too many errors"):
        load_partition(client, table, day, [{"snapshot_date": "2026-10-11", "cluster": "z", "replicas": "many"}])
    assert content() == [(day, "c", 5), (day, "d", 6), (other_day, "a", 4)]

    # An empty file empties the day.
    load_partition(client, table, day, [])
    assert content() == [(other_day, "a", 4)]


# ----------------------------------------------------------------------------- the emulator's own guards


def test_command_line_start_env_stop(tmp_path):
    """What `make demo-gcp` uses: a background emulator found again through its state file."""
    from tooling.emulators import bigquery

    if not bigquery.is_installed():
        pytest.skip(f"the BigQuery emulator venv {bigquery.VENV} is not installed: make .venv/bq/.installed")
    command = [sys.executable, "-m", "tooling.emulators.bigquery", "--state-dir", str(tmp_path)]
    started = subprocess.run(
        [*command, "start", "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr
    try:
        state = json.loads((tmp_path / "bigquery.json").read_text())
        env = subprocess.run([*command, "env"], capture_output=True, text=True, timeout=60).stdout
        assert f"export REPLICA_LEDGER_BQ_API_ENDPOINT={state['endpoint']}" in env.splitlines()
        emulator = bigquery.running_from_state(tmp_path)
        assert [tuple(row.values()) for row in emulator.client().query_and_wait("select 1 + 1")] == [(2,)]
    finally:
        stopped = subprocess.run([*command, "stop"], capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    assert not (tmp_path / "bigquery.json").exists()
    assert bigquery.running_from_state(tmp_path) is None
    assert not Path(f"/proc/{state['pid']}").exists()


def test_server_refuses_another_emulator_version():
    """The patches reach into local-bigquery's internals: they are only for the pinned version."""
    from tooling.emulators import bigquery

    if not bigquery.is_installed():
        pytest.skip(f"the BigQuery emulator venv {bigquery.VENV} is not installed: make .venv/bq/.installed")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import bigquery_server as server; "
        "server.EMULATOR_VERSION = '0.0.1'; server.check_version()"
    )
    result = subprocess.run(
        [str(bigquery.venv_python()), "-c", script, str(bigquery.SERVER.parent)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "local-bigquery 0.3.2 is installed but the patches" in result.stderr


# The emulator's own lookups against the patched ones (bigquery_server.cache_catalog_lookups),
# on one DuckLake catalog changed step by step: a table with NOT NULL columns, rows in it, a
# view, a table dropped, rows deleted, a column added, filled, made NOT NULL and dropped, the
# table replaced. Columns are cached per schema version: a stale entry fails a DDL step.
# Runs in the emulator's venv.
CATALOG_PARITY = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import bigquery_server as server
from local_bigquery.settings import settings
settings.data_dir = Path(sys.argv[2])
server.use_bundled_extensions()
from local_bigquery.catalog import tables
from local_bigquery.engine import database
own_objects, own_columns = database.objects, tables.columns
server.cache_catalog_lookups()
P, D = settings.default_project_id, "parity"
steps = [
    f'CREATE SCHEMA "{P}".{D}',
    f'CREATE TABLE "{P}".{D}.kept (day DATE NOT NULL, name VARCHAR NOT NULL, note VARCHAR)',
    f'CREATE TABLE "{P}".{D}.dropped (x INTEGER)',
    f'''INSERT INTO "{P}".{D}.kept VALUES ('2026-10-01', 'a', NULL), ('2026-10-02', 'b', 'n')''',
    f'CREATE VIEW "{P}".{D}.a_view AS SELECT name FROM "{P}".{D}.kept',
    f'DROP TABLE "{P}".{D}.dropped',
    f'''DELETE FROM "{P}".{D}.kept WHERE day = '2026-10-01' ''',
    f'ALTER TABLE "{P}".{D}.kept ADD COLUMN extra BIGINT',
    f'''INSERT INTO "{P}".{D}.kept VALUES ('2026-10-03', 'c', 'n', 1)''',
    f'ALTER TABLE "{P}".{D}.kept ALTER COLUMN note SET NOT NULL',
    f'ALTER TABLE "{P}".{D}.kept DROP COLUMN extra',
    f'CREATE OR REPLACE TABLE "{P}".{D}.kept AS SELECT name, day FROM "{P}".{D}.kept',
]
checked = 0
for step in steps:
    database.execute(step)
    for table_id in (None, "kept", "dropped", "a_view", "missing"):
        assert database.objects(P, D, table_id) == own_objects(P, D, table_id), (step, table_id)
        checked += 1
    if any(row[0] == "kept" for row in own_objects(P, D, "kept")):
        assert tables.columns(P, D, "kept") == own_columns(P, D, "kept"), step
        checked += 1
print("checked", checked)
"""


def test_catalog_lookups_answer_as_the_emulator_does(tmp_path):
    from tooling.emulators import bigquery

    if not bigquery.is_installed():
        pytest.skip(f"the BigQuery emulator venv {bigquery.VENV} is not installed: make .venv/bq/.installed")
    result = subprocess.run(
        [str(bigquery.venv_python()), "-c", CATALOG_PARITY, str(bigquery.SERVER.parent), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "checked 71" in result.stdout


# Patch 8 (bigquery_server.skip_the_pandas_probe): DuckDB's client searched sys.path for
# pandas on each execute() with parameters; after the patch it searches nothing and answers
# the same. Runs in the emulator's venv, which has no pandas.
PANDAS_PROBE = r"""
import sys
import importlib.machinery as machinery
sys.path.insert(0, sys.argv[1])
import bigquery_server as server
import duckdb
searched = []
find_spec = machinery.PathFinder.find_spec
def counting(name, path=None, target=None):
    searched.append(name)
    return find_spec(name, path, target)
machinery.PathFinder.find_spec = counting
con = duckdb.connect()
before = con.execute("SELECT ?::INTEGER", [1]).fetchall()
print("searched before", searched.count("pandas"))
server.skip_the_pandas_probe()
searched.clear()
after = con.execute("SELECT ?::INTEGER", [1]).fetchall()
print("searched after", searched.count("pandas"), before == after == [(1,)])
"""


def test_duckdb_stops_searching_for_pandas_and_answers_the_same():
    from tooling.emulators import bigquery

    if not bigquery.is_installed():
        pytest.skip(f"the BigQuery emulator venv {bigquery.VENV} is not installed: make .venv/bq/.installed")
    result = subprocess.run(
        [str(bigquery.venv_python()), "-c", PANDAS_PROBE, str(bigquery.SERVER.parent)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    searched_before = int(re.search(r"searched before (\d+)", result.stdout).group(1))
    assert searched_before > 0, result.stdout  # the probe this patch exists for
    assert "searched after 0 True" in result.stdout

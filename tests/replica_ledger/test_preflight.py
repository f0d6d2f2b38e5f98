"""The production preflight against the real emulators: BigQuery (local-bigquery) and GCS
(fake-gcs-server), with Slack connections looked up the Airflow way (AIRFLOW_CONN_* env
vars, read by the Slack provider's BaseHook). The pool lookup is the callable the task
gives; its Airflow side runs on a real metadata DB in tests/replica_ledger/airflow/.

Each test starts from a complete production setup and takes one kind of item away: the
one failure must name it. Then several at once: all are listed in that one failure.
"""

from __future__ import annotations

import pytest

from replica_ledger.airflow.slack import slack_connection_exists
from replica_ledger.alerts.routes import load_routes
from replica_ledger.preflight import PreflightError, preflight
from replica_ledger.raw.schema import DAY_TABLES
from replica_ledger.settings import load_settings
from tests.replica_ledger.gcp.rendering import BUCKET, GCP_ENV, REPO_ROOT
from tooling.emulators import bigquery as bq_emulator

pytestmark = pytest.mark.skipif(not bq_emulator.is_installed(), reason="BigQuery emulator venv not installed")

ROUTES_CSV = REPO_ROOT / "dbt_project" / "seeds" / "team_slack_routes.csv"
SLACK_CONNECTIONS = ("slack_default_webhook", "slack_payments_webhook", "slack_orders_webhook")
POOL = "ledger_warehouse"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preflight_bigquery")
    emulator = bq_emulator.start(data_dir=folder / "data", log_path=folder / "bigquery.log")
    yield emulator
    emulator.stop()


class World:
    """A complete production setup on the emulators; tests remove parts of it."""

    def __init__(self, emulator, gcs, monkeypatch, name: str) -> None:
        self.bq = emulator.client()
        self.gcs = gcs.client()
        self.project = emulator.project
        self.raw, self.marts, self.audit = f"{name}_raw", f"{name}_marts", f"{name}_audit"
        for dataset in (self.raw, self.marts, self.audit):
            self.bq.create_dataset(dataset, exists_ok=True)
        self.bq.query(f"CREATE TABLE `{self.project}.{self.raw}.ped_limit_changes` (change_id STRING)").result()
        self.bq.query(f"CREATE TABLE `{self.project}.{self.audit}.cloudaudit_activity` (insertId STRING)").result()
        gcs.create_bucket(BUCKET)
        self.pools = {POOL}
        for variable, value in {
            **GCP_ENV,
            **emulator.env(),
            "REPLICA_LEDGER_RAW_SCHEMA": self.raw,
            "REPLICA_LEDGER_BQ_DATASET": self.marts,
            "REPLICA_LEDGER_WAREHOUSE_POOL": POOL,
            "REPLICA_LEDGER_AUDIT_LOG": f"bq://{self.project}.{self.audit}.cloudaudit_activity",
        }.items():
            monkeypatch.setenv(variable, value)
        for conn_id in SLACK_CONNECTIONS:
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", "slackwebhook://:T0%2FB0%2Fx@127.0.0.1/services")

    def drop_dataset(self, dataset: str) -> None:
        self.bq.delete_dataset(dataset, delete_contents=True, not_found_ok=True)

    def drop_table(self, table: str) -> None:
        self.bq.delete_table(table, not_found_ok=True)

    def check(self) -> list:
        settings = load_settings()
        return preflight(
            settings,
            load_routes(ROUTES_CSV),
            conn_exists=slack_connection_exists,
            pool_exists=lambda name: name in self.pools,
            pools=(settings.warehouse_pool,),
            bigquery_client=self.bq,
            storage_client=self.gcs,
            raw_tables=DAY_TABLES,
        )

    def failure(self) -> PreflightError:
        with pytest.raises(PreflightError) as info:
            self.check()
        return info.value


@pytest.fixture
def world(emulator, empty_gcs, monkeypatch, request):
    name = "pf_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:40]
    world = World(emulator, empty_gcs, monkeypatch, name)
    yield world
    for dataset in (world.raw, world.marts, world.audit):
        world.drop_dataset(dataset)


def test_a_complete_setup_passes(world):
    assert world.check() == []


def test_a_missing_slack_connection_is_named(world, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_ORDERS_WEBHOOK")
    error = world.failure()
    assert error.problems == [
        "Slack connection slack_orders_webhook: does not exist (an Airflow connection or a Secret Manager secret)"
    ]
    assert "slack_orders_webhook" in str(error)


def test_the_platform_connection_is_checked_even_when_no_route_uses_it(world, monkeypatch):
    monkeypatch.setenv("REPLICA_LEDGER_SLACK_CONN_ID", "slack_platform_oncall")
    assert world.failure().problems == [
        "Slack connection slack_platform_oncall: does not exist (an Airflow connection or a Secret Manager secret)"
    ]


def test_a_missing_pool_is_named(world):
    world.pools.clear()
    error = world.failure()
    assert error.problems == [f"pool {POOL}: does not exist: Airflow would never schedule its tasks"]
    assert POOL in str(error)


def test_a_pool_that_cannot_be_looked_up_is_not_a_failure(world, caplog):
    """Airflow 3 tasks cannot read pools: the lookup answers None and the check says so in the log."""
    settings = load_settings()
    problems = preflight(
        settings,
        load_routes(ROUTES_CSV),
        conn_exists=slack_connection_exists,
        pool_exists=lambda name: None,
        pools=(POOL,),
        bigquery_client=world.bq,
        storage_client=world.gcs,
        raw_tables=DAY_TABLES,
    )
    assert problems == []
    assert f"pool '{POOL}' cannot be looked up" in caplog.text


def test_a_missing_dataset_is_named_once_without_its_tables(world):
    world.drop_dataset(world.raw)
    error = world.failure()
    assert error.problems == [f"BigQuery dataset {world.project}.{world.raw}: does not exist"]


def test_a_missing_source_table_is_named(world):
    table = f"{world.project}.{world.raw}.ped_limit_changes"
    world.drop_table(table)
    error = world.failure()
    assert error.problems == [f"PED change log table {table}: does not exist"]
    assert table in str(error)


def test_the_raw_tables_are_made_by_the_first_load_but_must_not_vanish_afterwards(world):
    """Before any load, missing raw tables are fine (the load creates them); once a day was
    loaded (the load record exists), a raw table that is gone is named."""
    assert world.check() == []
    world.bq.query(f"CREATE TABLE `{world.project}.{world.raw}.day_loads` (snapshot_date DATE)").result()
    error = world.failure()
    missing = [f"raw table {world.project}.{world.raw}.{table}: does not exist" for table in DAY_TABLES]
    assert sorted(error.problems) == sorted(problem for problem in missing if "day_loads" not in problem)


def test_a_missing_audit_sink_table_is_named_when_the_audit_source_is_bigquery(world, monkeypatch):
    table = f"{world.project}.{world.audit}.cloudaudit_activity"
    world.drop_table(table)
    assert world.failure().problems == [f"audit sink table {table}: does not exist"]
    monkeypatch.delenv("REPLICA_LEDGER_AUDIT_LOG")  # no audit source: nothing to check
    assert world.check() == []


def test_a_missing_archive_bucket_is_named(world, empty_gcs):
    empty_gcs.reset()
    error = world.failure()
    assert error.problems == [f"archive bucket gs://{BUCKET}: does not exist"]


def test_everything_missing_is_listed_in_one_failure(world, empty_gcs, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_PAYMENTS_WEBHOOK")
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_DEFAULT_WEBHOOK")
    world.pools.clear()
    world.drop_dataset(world.marts)
    world.drop_table(f"{world.project}.{world.raw}.ped_limit_changes")
    world.drop_table(f"{world.project}.{world.audit}.cloudaudit_activity")
    empty_gcs.reset()
    error = world.failure()
    names = [
        "slack_default_webhook",
        "slack_payments_webhook",
        POOL,
        f"{world.project}.{world.marts}",
        f"{world.project}.{world.raw}.ped_limit_changes",
        f"{world.project}.{world.audit}.cloudaudit_activity",
        f"gs://{BUCKET}",
    ]
    assert len(error.problems) == len(names)
    for name in names:
        assert name in str(error)
    assert str(error).startswith(f"preflight: {len(names)} item(s) missing or unusable: ")

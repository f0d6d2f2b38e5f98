"""The production load end to end: a day on GCS (fake-gcs-server) -> `pipeline.load_day` ->
the day partitions of the BigQuery raw tables (the local BigQuery emulator).

What is checked is what the load jobs promise: `table$YYYYMMDD` with WRITE_TRUNCATE
replaces exactly that day, so a re-run never appends and other days are untouched.
Skipped when the emulator's venv (.venv/bq, `make .venv/bq/.installed`) is not installed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from replica_ledger import pipeline
from replica_ledger.settings import load_settings
from replica_ledger.warehouse import open_warehouse
from tests.replica_ledger.gcp.rendering import BUCKET, GCP_ENV, PROJECT, REPO_ROOT
from tooling.emulators import bigquery as bigquery_emulator
from tooling.ped_table import load_ped_change_log

DEMO_ARCHIVE = REPO_ROOT / "demo" / "archive"
DAYS = (date(2026, 10, 1), date(2026, 10, 2))
RAW_DATASET = GCP_ENV["REPLICA_LEDGER_RAW_SCHEMA"]


@pytest.fixture(scope="module")
def bigquery(tmp_path_factory):
    if not bigquery_emulator.is_installed():
        pytest.skip("the BigQuery emulator is not installed (make .venv/bq/.installed)")
    emulator = bigquery_emulator.start(data_dir=tmp_path_factory.mktemp("bigquery"), project=PROJECT)
    try:
        emulator.client().create_dataset(RAW_DATASET)
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def production(bigquery, empty_gcs, monkeypatch):
    """REPLICA_LEDGER_ENV=gcp with the dbt target on BigQuery; the demo's first days in the bucket."""
    bucket = empty_gcs.create_bucket(BUCKET)
    for day in DAYS:
        for path in (DEMO_ARCHIVE / f"dt={day}").iterdir():
            bucket.blob(f"snapshots/dt={day}/{path.name}").upload_from_filename(str(path))
    for name, value in {**GCP_ENV, **bigquery.env()}.items():
        monkeypatch.setenv(name, value)
    settings = replace(load_settings(), dbt_target="bigquery", clusters=("gke-demo-eu", "gke-demo-us"))
    return settings, bucket, bigquery.client()


def day_counts(client, table: str) -> dict[date, int]:
    sql = f"select snapshot_date, count(*) as n from `{PROJECT}.{RAW_DATASET}.{table}` group by snapshot_date"
    return {row["snapshot_date"]: row["n"] for row in client.query(sql).result()}


def test_a_day_loads_into_its_partitions_and_a_rerun_replaces_it(production):
    settings, _, client = production
    first = pipeline.load_day(settings, DAYS[0])
    assert first["clusters"] == {"gke-demo-eu": "loaded", "gke-demo-us": "loaded"}
    pipeline.load_day(settings, DAYS[1])
    before = {table: day_counts(client, table) for table in ("k8s_deployments", "k8s_hpas", "snapshot_manifest")}
    assert before["k8s_deployments"][DAYS[0]] == first["rows"]["k8s_deployments"] > 0

    assert pipeline.load_day(settings, DAYS[0]) == first  # idempotent: same summary ...
    assert {table: day_counts(client, table) for table in before} == before  # ... and no second copy


def test_a_rerun_after_a_file_went_away_leaves_a_gap_not_old_rows(production):
    settings, bucket, client = production
    pipeline.load_day(settings, DAYS[0])
    pipeline.load_day(settings, DAYS[1])
    other_day = day_counts(client, "k8s_deployments")[DAYS[1]]
    bucket.blob(f"snapshots/dt={DAYS[0]}/gke-demo-us.json.gz").delete()
    summary = pipeline.load_day(settings, DAYS[0])
    assert summary["gaps"] == ["gke-demo-us"]
    rows = client.query(
        f"select cluster, status from `{PROJECT}.{RAW_DATASET}.snapshot_manifest` "
        f"where snapshot_date = '{DAYS[0]}' order by cluster"
    ).result()
    assert [(row["cluster"], row["status"]) for row in rows] == [("gke-demo-eu", "loaded"), ("gke-demo-us", "missing")]
    clusters = client.query(
        f"select distinct cluster from `{PROJECT}.{RAW_DATASET}.k8s_deployments` where snapshot_date = '{DAYS[0]}'"
    ).result()
    assert [row["cluster"] for row in clusters] == ["gke-demo-eu"]
    assert day_counts(client, "k8s_deployments")[DAYS[1]] == other_day


def test_a_ped_row_arrived_since_the_last_load_starts_the_run_window_on_bigquery(production):
    """The run window's rule on BigQuery: the PED table's rows after the arrival_seq the last
    load saw, from the day before their changed_at day; the run's load record keeps it."""
    settings, _, client = production
    table, _ = load_ped_change_log(client, REPO_ROOT / "demo" / "ped_limit_changes.jsonl", RAW_DATASET)
    pipeline.load_day(settings, DAYS[0])
    pipeline.load_day(settings, DAYS[1])
    client.query(
        f"insert into `{table}` (change_id, namespace, deployment, team, min_replicas, max_replicas, cpu, "
        "memory_gb, changed_at, changed_by, action, reason, arrival_seq) values ('ped-late', 'payments', "
        "'payments-api', 'payments', 2, 5, 2, 4, timestamp '2026-10-02 08:00:00+00', 'ped-pipeline', 'upsert', "
        "'late', 999999999)"
    ).result()

    again = pipeline.load_day(settings, DAYS[1])

    assert again["run_window"]["start"] == DAYS[0].isoformat()
    assert again["run_window"]["changed"] == {
        DAYS[0].isoformat(): ["PED change ped-late (arrival 999999999) changed_at 2026-10-02"]
    }
    assert json.loads(open_warehouse(settings).load_record(DAYS[1]).run_window) == again["run_window"]
    assert pipeline.window_days_back(settings, DAYS[1]) == 1

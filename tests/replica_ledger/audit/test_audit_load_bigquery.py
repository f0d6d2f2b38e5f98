"""The audit rows through the BigQuery path of the day load (the local BigQuery emulator):
the day partitions of k8s_audit_events / k8s_audit_rejects, replaced on a re-run; and the
audit models built on them by dbt-bigquery. Skipped when the emulator's venv (.venv/bq)
is not installed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from replica_ledger.settings import Settings
from tests.dbt.bigquery_load import RAW_DATASET, load_ped_change_log, load_raw_day
from tests.dbt.test_bigquery_emulator import DATASET, run_dbt
from tests.replica_ledger.audit.test_audit_dbt import DAYS as DBT_DAYS
from tests.replica_ledger.audit.test_audit_dbt import INTRADAY_ROWS, INTRADAY_SQL, SELECT, write_inputs
from tests.replica_ledger.audit.test_audit_load import DAY, hpa_patch, write_log
from tooling.emulators import bigquery as bigquery_emulator

PROJECT = "audit-test"


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


def test_audit_rows_replace_their_day_partition(bigquery, tmp_path):
    audit = tmp_path / "audit.jsonl"
    write_log(audit, [hpa_patch("a", 9, 7), "{oops", hpa_patch("c", 9, 6, date(2026, 10, 15))])
    settings = replace(Settings(), archive_dir=tmp_path / "archive", clusters=("gke-eu",), audit_log=audit)
    first = load_raw_day(bigquery, settings, DAY)
    load_raw_day(bigquery, settings, date(2026, 10, 15))
    assert load_raw_day(bigquery, settings, DAY) == first
    client = bigquery.client()
    events = client.query(
        f"select snapshot_date, audit_id, new_value, is_controller from `{PROJECT}.{RAW_DATASET}.k8s_audit_events` "
        "order by snapshot_date"
    ).result()
    assert [tuple(row.values()) for row in events] == [
        (DAY, "a", 7, False),
        (date(2026, 10, 15), "c", 6, False),
    ]
    rejects = client.query(f"select snapshot_date, line_number from `{PROJECT}.{RAW_DATASET}.k8s_audit_rejects`")
    assert [tuple(row.values()) for row in rejects.result()] == [(DAY, 2)]


def test_the_audit_models_build_on_bigquery(bigquery, tmp_path):
    """The dbt audit models (with their tests and unit test) built by dbt-bigquery on the
    emulator from the same inputs as the DuckDB build: the same edits."""
    settings = write_inputs(tmp_path, with_audit=True)
    for day in (DAY, date(2026, 10, 15)):  # the other test's days, emptied
        load_raw_day(bigquery, replace(settings, audit_log=None), day)
    for day in DBT_DAYS:
        load_raw_day(bigquery, settings, day)
    client = bigquery.client()
    load_ped_change_log(client, settings.ped_changes)
    run_dbt(bigquery.dbt_env(), tmp_path, "build", "--select", *SELECT)
    rows = client.query_and_wait(
        f"select audit_id, field, from_value, to_value, tool, approved_max_replicas from {DATASET}.fct_limit_edits "
        "order by changed_at"
    )
    assert [tuple(row.values()) for row in rows] == [
        ("a1", "max_replicas", 4, 8, "kubectl", 4),
        ("a3", "max_replicas", 8, 4, "kubectl", 4),
        ("c1", "max_replicas", 4, 6, "ci", 6),
    ]
    intraday = client.query_and_wait(INTRADAY_SQL.format(schema=DATASET))
    assert [tuple(row.values()) for row in intraday] == INTRADAY_ROWS

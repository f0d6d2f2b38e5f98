"""The audit rows through the BigQuery path of the day load (the local BigQuery emulator):
the day partitions of k8s_audit_events / k8s_audit_rejects, replaced on a re-run.
Skipped when the emulator's venv (.venv/bq) is not installed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from replica_ledger.settings import Settings
from tests.dbt.bigquery_load import RAW_DATASET, load_raw_day
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

"""The task bodies: the docs gate and the alert branch, from the keys both Airflow versions
pass to tasks. The context -> day/backfill rules are RunInfo's (airflow/test_context.py);
the real runs are in tests/dags/ (dag.test and the backfill commands).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace

import pytest

from replica_ledger.airflow import tasks


def context(logical_date=None, run_type="scheduled", run_id="scheduled__x", run_after=None) -> dict:
    return {
        "logical_date": logical_date,
        "run_id": run_id,
        "dag_run": SimpleNamespace(run_type=run_type, run_after=run_after),
    }


def test_docs_refresh_for_the_current_day_and_month_ends(monkeypatch, clock):
    monkeypatch.delenv("REPLICA_LEDGER_LIVE_TOLERANCE_DAYS", raising=False)
    yesterday = datetime.combine(clock.today() - timedelta(days=1), time(0), tzinfo=UTC)
    assert tasks.docs_due(context(yesterday)) is True
    assert tasks.docs_due(context(datetime(2026, 10, 14, tzinfo=UTC))) is False
    assert tasks.docs_due(context(datetime(2026, 10, 31, tzinfo=UTC), run_type="backfill")) is True
    past_not_end = context(yesterday, run_type="backfill") if (yesterday + timedelta(days=1)).day != 1 else None
    if past_not_end:
        assert tasks.docs_due(past_not_end) is False


@pytest.mark.parametrize("target", ["duckdb", "bigquery"])
def test_alert_branch_is_silent_for_backfills_and_old_days_on_either_warehouse(monkeypatch, tmp_path, target, clock):
    """Decided before any warehouse is read: nothing is opened (no DuckDB file, no BigQuery client).

    Both targets take the same path; the end-to-end alert runs are in tests/replica_ledger/alerts/."""
    monkeypatch.setenv("REPLICA_LEDGER_DBT_TARGET", target)
    monkeypatch.setenv("REPLICA_LEDGER_DUCKDB", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("REPLICA_LEDGER_ALERT_MAX_AGE_DAYS", "2")
    monkeypatch.delenv("REPLICA_LEDGER_GCP_PROJECT", raising=False)
    yesterday = datetime.combine(clock.today() - timedelta(days=1), time(0), tzinfo=UTC)
    backfill = context(yesterday, run_type="backfill", run_id="backfill__x")
    old_day = context(yesterday - timedelta(days=10))
    for ctx in (backfill, old_day):
        assert tasks.choose_alert_branch(ctx, "alert.post_slack", "alert.no_alert") == "alert.no_alert"
        assert tasks.post_alerts(ctx)["allowed"] is False
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_in_production_the_load_does_not_go_on_when_the_preflight_did_not_pass(monkeypatch):
    """The load follows the collector pods with trigger rule all_done, so it checks the
    preflight's return value itself: without it, it fails before touching anything (and the
    run with it), marked as told by the preflight's own notice."""
    from replica_ledger.airflow.compat import fail_exception
    from replica_ledger.airflow.preflight import NOTIFIED_BY_PREFLIGHT, TASK_ID, require_passed
    from tests.replica_ledger.gcp.rendering import GCP_ENV

    for name, value in GCP_ENV.items():
        monkeypatch.setenv(name, value)
    pulled = []

    def xcom_pull(task_ids):
        pulled.append(task_ids)
        return None

    failed = {**context(datetime(2026, 10, 14, tzinfo=UTC)), "ti": SimpleNamespace(xcom_pull=xcom_pull)}
    with pytest.raises(fail_exception(), match="preflight did not pass") as raised:
        tasks.load(failed)
    assert pulled == [TASK_ID]
    assert getattr(raised.value, NOTIFIED_BY_PREFLIGHT) is True
    require_passed({"ti": SimpleNamespace(xcom_pull=lambda task_ids: {"problems": 0})})  # passed: no skip

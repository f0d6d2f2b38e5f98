"""Fixtures shared by the DAG tests: the demo month, run once per session."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support.airflow_cli import REPO_ROOT, local_env, run_script

RUN_DAYS = "python scripts/run_days.py {first} {last} --dags-folder dags"


@pytest.fixture(scope="session")
def demo_month(tmp_path_factory) -> SimpleNamespace:
    """The demo month (October 2026) through the real DAG on DuckDB, as `make demo` runs it
    (but for the daily data tests, below).

    Session-scoped: the DuckDB demo tests and the demo-gcp comparison read the same run.
    """
    local = tmp_path_factory.mktemp("demo_month")
    # The demo month is in the past: widen the alert window so these manual runs alert
    # (what `make demo` does too); backfills stay silent whatever it says. The demo's audit
    # log, as scripts/demo.sh sets it: who crossed each limit, and the intra-day episode.
    # The days build models only: the month's data tests run once, at the close (as they
    # do with this setting in production) and in test_full_dbt_build_with_unit_tests_...,
    # instead of 31 times over the same rows. The daily tests are covered where days are
    # few (the month story, the backfills, test_billing_close).
    env = local_env(
        local,
        REPLICA_LEDGER_ALERT_MAX_AGE_DAYS="36500",
        REPLICA_LEDGER_AUDIT_LOG=str(REPO_ROOT / "demo" / "audit_log.jsonl"),
        REPLICA_LEDGER_DBT_DAILY_TESTS="false",
    )
    run_script(
        "bash scripts/airflow_init.sh $AIRFLOW_MAJOR && " + RUN_DAYS.format(first="2026-10-01", last="2026-10-31"),
        env,
        timeout=2400,
        log=local / "run_days.log",
    )
    return SimpleNamespace(local=local, env=env, duckdb=local / "warehouse.duckdb", outbox=local / "outbox")

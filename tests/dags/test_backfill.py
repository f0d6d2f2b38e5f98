"""`make backfill` on this interpreter's Airflow: `airflow dags backfill` on 2.11,
`airflow backfill create` (with a scheduler, dag-processor and api-server) on 3.x.

A backfill must: read only the archive (no live snapshot), never post to Slack, leave
the tables exactly as they were when run again, and build the same tables as the same
days run one by one with `dag.test()`.
"""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from tests.support.airflow_cli import AIRFLOW_MAJOR, local_env, query, run_script, table_fingerprints

# Day 10 opens a breach episode (payments' HPA raised before PED approved it) and day 11
# brings the PED change: a backfill over them must stay silent and bill nothing twice.
FIRST, LAST = "2026-10-09", "2026-10-11"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def backfill(tmp_path_factory) -> SimpleNamespace:
    local = tmp_path_factory.mktemp("backfill")
    # However wide the alert window, a backfill never posts: widen it to prove that.
    env = local_env(
        local,
        REPLICA_LEDGER_ALERT_MAX_AGE_DAYS="36500",
        AIRFLOW_API_PORT=str(free_port()),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
    )
    command = f"make --no-print-directory backfill FROM={FIRST} TO={LAST} AIRFLOW={AIRFLOW_MAJOR}"
    run_script(command, env, timeout=1800, log=local / "backfill-1.log")
    first = table_fingerprints(local / "warehouse.duckdb")
    run_script(command, env, timeout=1800, log=local / "backfill-2.log")
    second = table_fingerprints(local / "warehouse.duckdb")
    return SimpleNamespace(local=local, env=env, first=first, second=second)


def test_backfill_reports_every_day(backfill):
    log = (backfill.local / "backfill-1.log").read_text()
    for day in ("2026-10-09", "2026-10-10", "2026-10-11"):
        assert f"[replica-ledger] backfill {day}: success" in log


def test_backfill_creates_no_other_run(backfill):
    """Only the backfill's runs: no scheduled (live) run appears while the DAG is unpaused."""
    import sqlite3

    db = backfill.local / f"airflow{AIRFLOW_MAJOR}" / "airflow.db"
    with sqlite3.connect(db) as con:
        run_types = con.execute("select distinct run_type from dag_run").fetchall()
    assert run_types == [("backfill",)]


def test_backfill_builds_the_days(backfill):
    days = query(backfill.local / "warehouse.duckdb", "select distinct snapshot_date from fct_deployment_daily")
    assert sorted(row["snapshot_date"].isoformat() for row in days) == [FIRST, "2026-10-10", LAST]
    new = query(backfill.local / "warehouse.duckdb", "select deployment from fct_replica_breaches where is_new_episode")
    assert new == [{"deployment": "payments-api"}]


def test_backfill_never_posts(backfill):
    outbox = backfill.local / "outbox"
    assert not outbox.exists() or list(outbox.iterdir()) == []
    sent = query(
        backfill.local / "warehouse.duckdb",
        "select count(*) as n from information_schema.tables where table_schema = 'main' and table_name = 'alert_log'",
    )
    if sent[0]["n"]:
        assert query(backfill.local / "warehouse.duckdb", "select count(*) as n from main.alert_log") == [{"n": 0}]


def test_backfill_again_leaves_every_table_unchanged(backfill):
    assert backfill.first and backfill.second == backfill.first


def test_backfill_equals_the_same_days_run_one_by_one(backfill, tmp_path):
    """Same tables as dag.test() over the same days (with the default alert window, so
    neither path posts)."""
    env = local_env(tmp_path)
    run_script(
        f"bash scripts/airflow_init.sh $AIRFLOW_MAJOR && python scripts/run_days.py {FIRST} {LAST} --dags-folder dags",
        env,
        timeout=900,
        log=tmp_path / "run_days.log",
    )
    assert table_fingerprints(tmp_path / "warehouse.duckdb") == backfill.first

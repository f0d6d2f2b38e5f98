"""`make backfill` on this interpreter's Airflow: `airflow dags backfill` on 2.11,
`airflow backfill create` (with a scheduler, dag-processor and api-server) on 3.x.

A backfill must: read only the archive (no live snapshot), never post to Slack, leave
the tables exactly as they were when run again, and build the same tables as the same
days run one by one with `dag.test()`. Successive calls on one home must all work, the way
an operator replays late data: the second call here re-runs part of the first one's range.
"""

from __future__ import annotations

import socket
import sqlite3
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tests.support.airflow_cli import AIRFLOW_MAJOR, local_env, query, run_script, table_fingerprints

# Day 10 opens a breach episode (payments' HPA raised before PED approved it) and day 11
# brings the PED change: a backfill over them must stay silent and bill nothing twice.
# Two days are enough for that: each backfilled day costs a minute of Airflow 2 task
# processes on a loaded machine.
FIRST, LAST = "2026-10-10", "2026-10-11"
# The second call: the last day again, over a different range (the first day is left alone).
AGAIN_FROM = LAST


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
    command = "make --no-print-directory backfill FROM={} TO={} AIRFLOW=" + str(AIRFLOW_MAJOR)
    run_script(command.format(FIRST, LAST), env, timeout=1800, log=local / "backfill-1.log")
    first = table_fingerprints(local / "warehouse.duckdb")
    between_calls = datetime.now(UTC)
    run_script(command.format(AGAIN_FROM, LAST), env, timeout=1800, log=local / "backfill-2.log")
    second = table_fingerprints(local / "warehouse.duckdb")
    return SimpleNamespace(local=local, env=env, first=first, second=second, between_calls=between_calls)


def metadata_db(backfill) -> sqlite3.Connection:
    return sqlite3.connect(backfill.local / f"airflow{AIRFLOW_MAJOR}" / "airflow.db")


def utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_backfill_reports_every_day(backfill):
    log = (backfill.local / "backfill-1.log").read_text()
    for day in (FIRST, LAST):
        assert f"[replica-ledger] backfill {day}: success" in log


def test_second_backfill_reports_its_own_days(backfill):
    log = (backfill.local / "backfill-2.log").read_text()
    assert f"[replica-ledger] backfill {LAST}: success" in log
    assert f"[replica-ledger] backfill {FIRST}" not in log


def test_second_backfill_reruns_only_its_days(backfill):
    """One successful run per day; the second call ran its day again and left the first day alone."""
    date_column = "logical_date" if AIRFLOW_MAJOR >= 3 else "execution_date"
    with metadata_db(backfill) as con:
        runs = con.execute(f"select {date_column}, state, start_date from dag_run order by 1").fetchall()
    assert [(day[:10], state) for day, state, _ in runs] == [(FIRST, "success"), (LAST, "success")]
    started_in_second_call = [day[:10] for day, _, start in runs if utc(start) > backfill.between_calls]
    assert started_in_second_call == [LAST]


@pytest.mark.skipif(AIRFLOW_MAJOR < 3, reason="Airflow 2's `dags backfill` keeps no backfill record")
def test_every_backfill_record_is_closed(backfill):
    """Airflow 3 refuses a new backfill of a DAG while one is open: each call closes its own."""
    with metadata_db(backfill) as con:
        records = con.execute("select from_date, to_date, completed_at from backfill order by id").fetchall()
    assert [(start[:10], end[:10]) for start, end, _ in records] == [(FIRST, LAST), (AGAIN_FROM, LAST)]
    assert all(completed_at for _, _, completed_at in records)


def test_backfill_leaves_no_dag_unpaused(backfill):
    """Airflow 3 unpauses the DAG for its backfill (the scheduler starts no run of a paused DAG)
    and pauses it again; 2.11's in-process backfill leaves no DAG row at all."""
    with metadata_db(backfill) as con:
        assert con.execute("select dag_id from dag where not is_paused").fetchall() == []


def test_backfill_creates_no_other_run(backfill):
    """Only the backfill's runs: no scheduled (live) run appears while the DAG is unpaused."""
    with metadata_db(backfill) as con:
        run_types = con.execute("select distinct run_type from dag_run").fetchall()
    assert run_types == [("backfill",)]


def test_backfill_builds_the_days(backfill):
    days = query(backfill.local / "warehouse.duckdb", "select distinct snapshot_date from fct_deployment_daily")
    assert sorted(row["snapshot_date"].isoformat() for row in days) == [FIRST, LAST]
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


def test_backfill_again_over_part_of_the_days_leaves_every_table_unchanged(backfill):
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

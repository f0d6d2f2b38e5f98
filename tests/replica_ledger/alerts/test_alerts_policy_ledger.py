"""should_post (backfills, old days) and the DuckDB alert_log ledger."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from types import SimpleNamespace

import duckdb
import pytest

from replica_ledger.airflow.context import RunInfo
from replica_ledger.alerts import AlertLog, should_post
from replica_ledger.warehouse.duckdb import DuckDBAlertLog

from .factories import ep

TODAY = date(2024, 5, 4)
DAY = date(2024, 5, 3)


def _dag_run_type():
    from airflow.utils.types import DagRunType  # same enum values on 2.11 and 3.x

    return DagRunType


def _run(run_type, run_id: str, day: date = DAY) -> RunInfo:
    """The RunInfo of a task context, as the task glue builds it."""
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC)
    context = {"logical_date": logical, "run_id": run_id, "dag_run": SimpleNamespace(run_type=run_type, run_id=run_id)}
    return RunInfo.from_context(context)


def _should_post(run: RunInfo, max_age_days: int = 2) -> tuple[bool, str]:
    return should_post(run.snapshot_day, is_backfill=run.is_backfill, max_age_days=max_age_days, today=TODAY)


def test_backfill_run_type_of_installed_airflow_never_posts():
    DagRunType = _dag_run_type()
    assert DagRunType.BACKFILL_JOB.value == "backfill"
    ok, reason = _should_post(_run(DagRunType.BACKFILL_JOB, "backfill__2024-05-03T00:00:00+00:00"))
    assert not ok and "backfill" in reason
    # The run type alone (AF 3 pydantic DagRun carries the enum; AF 2 the plain string).
    assert _should_post(_run("backfill", "x"))[0] is False
    # A backfill run id without run type information.
    assert _should_post(_run(None, "backfill__2024-05-03T00:00:00+00:00"))[0] is False


@pytest.mark.parametrize("run_type", ["SCHEDULED", "MANUAL"])
def test_scheduled_and_manual_current_day_post(run_type):
    rt = getattr(_dag_run_type(), run_type)
    ok, reason = _should_post(_run(rt, f"{rt.value}__2024-05-03T00:00:00+00:00"))
    assert ok, reason


def test_old_day_never_posts():
    def ok(day, max_age_days):
        return should_post(day, is_backfill=False, max_age_days=max_age_days, today=TODAY)[0]

    assert ok(date(2024, 5, 2), 2) is True  # 2 days: ok
    allowed, reason = should_post(date(2024, 5, 1), is_backfill=False, max_age_days=2, today=TODAY)
    assert not allowed and "3 days old" in reason
    assert ok(DAY, 0) is False
    assert ok(TODAY, 0) is True
    assert ok("2024-05-03", 2) is True
    assert ok(datetime(2024, 5, 3, 23, 0), 2) is True
    with pytest.raises(ValueError, match="max_age_days"):
        ok(DAY, -1)


def test_backfill_of_the_current_day_never_posts():
    allowed, reason = should_post(TODAY, is_backfill=True, max_age_days=2, today=TODAY)
    assert not allowed and "backfill" in reason


def _episodes(*names, started_on=DAY):
    return [ep(name, started_on=started_on) for name in names]


def _claim(ledger, episodes, route="slack_default_webhook", run_id="r1"):
    return ledger.claim(route=route, run_id=run_id, snapshot_date=DAY, episodes=episodes, message_hash="h1")


@pytest.mark.parametrize("kind", ["path", "connection"])
def test_alert_log_claim_confirm_release(tmp_path, kind):
    if kind == "path":
        ledger = DuckDBAlertLog(tmp_path / "sub" / "w.duckdb")
    else:
        ledger = DuckDBAlertLog(duckdb.connect(str(tmp_path / "w.duckdb")))
    assert isinstance(ledger, AlertLog)
    a, b = _episodes("a-api", "b-api")
    first = _claim(ledger, [a])
    assert first.won == {a.key} and first.held == {}
    (rec,) = ledger.records()
    assert (rec.status, rec.sent_at, rec.run_id, rec.message_hash) == ("failed", None, "r1", "h1")
    # Claimed (even unconfirmed): another attempt cannot have it; the other episode it can.
    second = _claim(ledger, [a, b], run_id="r2")
    assert second.won == {b.key} and set(second.held) == {a.key}
    assert second.held[a.key].claim_token == first.token and not second.held[a.key].confirmed
    ledger.confirm(first.token, status="sent", message_hash="h-final")
    ledger.release(second.token)  # we KNOW b was not posted: b may be claimed again
    (rec,) = ledger.records()
    assert (rec.episode_key, rec.status, rec.message_hash) == (a.episode_key, "sent", "h-final")
    assert rec.sent_at is not None and rec.confirmed
    assert _claim(ledger, [a, b], run_id="r3").won == {b.key}
    # Another route is another audience.
    assert _claim(ledger, [a], route="slack_orders_webhook").won == {a.key}
    assert set(ledger.find("slack_default_webhook", [a, b])) == {a.key, b.key}
    assert ledger.find("nowhere", [a]) == {}
    with pytest.raises(ValueError):
        ledger.confirm(first.token, status="failed", message_hash="x")


def test_alert_log_is_main_alert_log_with_the_contract_columns(tmp_path):
    path = tmp_path / "w.duckdb"
    (a,) = _episodes("a-api")
    claim = _claim(DuckDBAlertLog(path), [a])
    DuckDBAlertLog(path).confirm(claim.token, status="outbox", message_hash="h")
    # A new process/ledger on the same file sees it.
    assert _claim(DuckDBAlertLog(path), [a], run_id="r2").won == set()
    con = duckdb.connect(str(path))
    cols = [r[0] for r in con.execute("DESCRIBE main.alert_log").fetchall()]
    assert cols[:10] == [
        "snapshot_date",
        "cluster",
        "namespace",
        "deployment",
        "breach_type",
        "episode_started_on",
        "route",
        "status",
        "sent_at",
        "message_hash",
    ]
    assert con.execute("SELECT deployment, route, status FROM main.alert_log").fetchall() == [
        ("a-api", "slack_default_webhook", "outbox")
    ]


def test_claim_race_two_claimers_one_wins(tmp_path):
    """Two attempts claim the same episodes at the same moment, each on its own connection."""
    path = tmp_path / "w.duckdb"
    DuckDBAlertLog(path)
    episodes = _episodes(*(f"api-{i}" for i in range(20)))
    database = duckdb.connect(str(path))
    ledgers = [DuckDBAlertLog(database.cursor()) for _ in range(2)]
    start = threading.Barrier(2)

    def claim(i):
        start.wait()
        return _claim(ledgers[i], episodes, run_id=f"r{i}")

    with ThreadPoolExecutor(2) as pool:
        claims = list(pool.map(claim, range(2)))
    all_keys = {e.key for e in episodes}
    assert claims[0].won | claims[1].won == all_keys
    assert claims[0].won & claims[1].won == set()
    rows = database.execute("SELECT count(*), count(DISTINCT episode_key) FROM main.alert_log").fetchone()
    assert rows == (20, 20)

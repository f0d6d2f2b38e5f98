"""should_post (backfills, old days) and the DuckDB ledger of sent messages."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace

import duckdb
import pytest

from replica_ledger.alerts import DuckDBSentLedger, InMemorySentLedger, SentLedger, should_post

TODAY = date(2024, 5, 4)
DAY = date(2024, 5, 3)


def _dag_run_type():
    from airflow.utils.types import DagRunType  # same enum values on 2.11 and 3.x

    return DagRunType


def test_backfill_run_type_of_installed_airflow_never_posts():
    DagRunType = _dag_run_type()
    assert DagRunType.BACKFILL_JOB.value == "backfill"
    ctx = {"dag_run": SimpleNamespace(run_type=DagRunType.BACKFILL_JOB, run_id="backfill__2024-05-03T00:00:00+00:00")}
    ok, reason = should_post(ctx, DAY, max_age_days=2, today=TODAY)
    assert not ok and "backfill" in reason
    # The run type alone (AF 3 pydantic DagRun carries the enum; AF 2 the plain string).
    assert should_post({"dag_run": SimpleNamespace(run_type="backfill", run_id="x")}, DAY, 2, TODAY)[0] is False
    assert should_post({"run_type": "backfill"}, DAY, 2, TODAY)[0] is False
    # A backfill run id without run type information.
    assert should_post({"run_id": "backfill__2024-05-03T00:00:00+00:00"}, DAY, 2, TODAY)[0] is False


@pytest.mark.parametrize("run_type", ["SCHEDULED", "MANUAL"])
def test_scheduled_and_manual_current_day_post(run_type):
    rt = getattr(_dag_run_type(), run_type)
    ctx = {"dag_run": SimpleNamespace(run_type=rt, run_id=f"{rt.value}__2024-05-03T00:00:00+00:00")}
    ok, reason = should_post(ctx, DAY, max_age_days=2, today=TODAY)
    assert ok, reason


def test_old_day_never_posts(monkeypatch):
    sched = {"dag_run": SimpleNamespace(run_type="scheduled", run_id="scheduled__x")}
    assert should_post(sched, date(2024, 5, 2), max_age_days=2, today=TODAY)[0] is True  # 2 days: ok
    ok, reason = should_post(sched, date(2024, 5, 1), max_age_days=2, today=TODAY)
    assert not ok and "3 days old" in reason
    monkeypatch.setenv("REPLICA_LEDGER_ALERT_MAX_AGE_DAYS", "0")
    assert should_post(sched, DAY, today=TODAY)[0] is False
    assert should_post(sched, TODAY, today=TODAY)[0] is True
    monkeypatch.delenv("REPLICA_LEDGER_ALERT_MAX_AGE_DAYS")
    assert should_post(sched, date(2024, 5, 2), today=TODAY)[0] is True  # default 2
    assert should_post(sched, date(2024, 5, 1), today=TODAY)[0] is False
    assert should_post(sched, "2024-05-03", today=TODAY)[0] is True
    assert should_post(sched, datetime(2024, 5, 3, 23, 0), today=TODAY)[0] is True
    monkeypatch.setenv("REPLICA_LEDGER_ALERT_MAX_AGE_DAYS", "two")
    with pytest.raises(ValueError):
        should_post(sched, DAY, today=TODAY)


def _claim(ledger, run_id="r1", route="slack_default_webhook", sha="abc"):
    return ledger.claim(
        run_id=run_id, route=route, snapshot_date=DAY, payload_sha256=sha, channel="#x", transport="slack"
    )


@pytest.mark.parametrize("kind", ["path", "connection", "memory"])
def test_ledger_claim_confirm_release(tmp_path, kind):
    if kind == "path":
        ledger = DuckDBSentLedger(tmp_path / "sub" / "w.duckdb")
    elif kind == "connection":
        ledger = DuckDBSentLedger(duckdb.connect(str(tmp_path / "w.duckdb")))
    else:
        ledger = InMemorySentLedger()
    assert isinstance(ledger, SentLedger)
    first = _claim(ledger)
    assert first.acquired and first.record.sent_at is None
    second = _claim(ledger, sha="other")
    assert not second.acquired and second.record.payload_sha256 == "abc" and not second.record.confirmed
    ledger.confirm("r1", "slack_default_webhook")
    assert ledger.get("r1", "slack_default_webhook").confirmed
    assert not _claim(ledger).acquired
    assert _claim(ledger, route="other").acquired
    ledger.release("r1", "other")
    assert ledger.get("r1", "other") is None
    assert [r.route for r in ledger.records("r1")] == ["slack_default_webhook"]
    # The same message of the same day and route, whichever run sent it.
    found = ledger.find_message(snapshot_date=DAY, route="slack_default_webhook", payload_sha256="abc")
    assert found.run_id == "r1" and found.confirmed
    assert ledger.find_message(snapshot_date=DAY, route="slack_default_webhook", payload_sha256="other") is None
    assert ledger.find_message(snapshot_date=DAY, route="nowhere", payload_sha256="abc") is None


def test_duckdb_ledger_table_persists(tmp_path):
    path = tmp_path / "w.duckdb"
    ledger = DuckDBSentLedger(path)
    _claim(ledger)
    ledger.confirm("r1", "slack_default_webhook")
    # A new process/ledger on the same file sees it; the table is ops.notifications_sent.
    assert not _claim(DuckDBSentLedger(path)).acquired
    con = duckdb.connect(str(path))
    cols = [r[0] for r in con.execute("DESCRIBE ops.notifications_sent").fetchall()]
    assert cols[:6] == ["run_id", "route", "snapshot_date", "payload_sha256", "sent_at", "channel"]
    assert con.execute("SELECT run_id, route, channel FROM ops.notifications_sent").fetchall() == [
        ("r1", "slack_default_webhook", "#x")
    ]

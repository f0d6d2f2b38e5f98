"""RunInfo: the one place that turns a task context into the run's day and kind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from replica_ledger.airflow.context import RunInfo, is_current_day


def context(run_id: str, run_type: str | None, logical: datetime | None, **extra) -> dict:
    dag_run = SimpleNamespace(run_id=run_id, run_type=run_type, run_after=datetime(2026, 10, 12, 0, 5, tzinfo=UTC))
    return {"logical_date": logical, "run_id": run_id, "dag_run": dag_run, **extra}


def test_the_snapshot_day_is_the_utc_date_of_the_logical_date():
    logical = datetime(2026, 10, 11, 0, 0, tzinfo=UTC)
    info = RunInfo.from_context(context("scheduled__2026-10-11", "scheduled", logical))
    assert info.snapshot_day == date(2026, 10, 11)
    assert not info.is_backfill


def test_a_manual_run_without_logical_date_closes_the_day_before_run_after():
    info = RunInfo.from_context(context("manual__x", "manual", None))
    assert info.snapshot_day == date(2026, 10, 11)


def test_backfill_is_known_by_run_type_or_run_id():
    logical = datetime(2026, 10, 11, tzinfo=UTC)
    assert RunInfo.from_context(context("whatever", "backfill", logical)).is_backfill
    assert RunInfo.from_context(context("backfill__2026-10-11T00:00:00+00:00", None, logical)).is_backfill


@pytest.mark.parametrize(
    ("run_type", "run_id", "backfill"),
    [
        ("backfill", "backfill__2026-10-14T00:00:00+00:00", True),  # both versions' run type value
        ("manual", "backfill__2026-10-14T00:00:00+00:00", True),  # run id of 2.11's backfill job
        ("scheduled", "scheduled__2026-10-14T00:00:00+00:00", False),
        ("manual", "manual__2026-10-14T00:00:00+00:00", False),
    ],
)
def test_backfill_detection(run_type, run_id, backfill):
    info = RunInfo.from_context(context(run_id, run_type, datetime(2026, 10, 14, tzinfo=UTC)))
    assert info.is_backfill is backfill


@pytest.mark.parametrize(
    ("day", "tolerance", "backfill", "current"),
    [
        (date(2026, 10, 11), 1, False, True),  # the run for D, just after midnight on D+1
        (date(2026, 10, 11), 0, False, False),  # tolerance 0: live capture off
        (date(2026, 10, 12), 1, False, False),  # a manual run during D itself: D has not ended
        (date(2026, 10, 10), 1, False, False),  # two days late: past day, archive only
        (date(2026, 10, 10), 3, False, False),  # ... whatever the tolerance: the collector's window has passed
        (date(2026, 10, 13), 1, False, False),  # a future day is never current
        (date(2026, 10, 11), 1, True, False),  # a backfill never touches live systems
        (date(2025, 1, 1), 30, False, False),
    ],
)
def test_current_day_rule(day, tolerance, backfill, current):
    run_id = "backfill__x" if backfill else "scheduled__x"
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC)
    info = RunInfo.from_context(context(run_id, "backfill" if backfill else "scheduled", logical))
    assert info.is_current_day(tolerance, today=date(2026, 10, 12)) is current


def test_only_a_regular_run_for_the_current_day_is_current():
    logical = datetime(2026, 10, 11, tzinfo=UTC)
    today = date(2026, 10, 12)
    regular = RunInfo.from_context(context("scheduled__x", "scheduled", logical))
    backfill = RunInfo.from_context(context("backfill__x", "backfill", logical))
    assert regular.is_current_day(tolerance_days=1, today=today)
    assert not regular.is_current_day(tolerance_days=1, today=date(2026, 10, 14))
    assert not backfill.is_current_day(tolerance_days=1, today=today)
    assert not is_current_day(date(2026, 10, 13), 1, today=today)  # a day not yet ended


def test_run_type_enum_is_read_by_value():
    class RunType(str):
        value = "backfill"

    logical = datetime(2026, 10, 11, tzinfo=UTC)
    info = RunInfo.from_context(context("manual__x", RunType("DagRunType.BACKFILL_JOB"), logical))
    assert info.run_type == "backfill" and info.is_backfill


def test_log_url_comes_from_the_task_instance():
    logical = datetime(2026, 10, 11, tzinfo=UTC)
    ti = SimpleNamespace(log_url="http://airflow/log")
    info = RunInfo.from_context(context("scheduled__x", "scheduled", logical, ti=ti, dag=SimpleNamespace(dag_id="d")))
    assert (info.log_url, info.dag_id) == ("http://airflow/log", "d")

"""How bench_backfill turns a short backfill into its 30-day figure: the month-end run (which
also closes the month and writes the docs) counts once, the days before it 29 times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.bench_backfill import summarize, thirty_days_s

STARTED = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def backfill(day_s: float, month_end_s: float, days: int, startup_s: float = 14.0) -> tuple[float, list[dict]]:
    """A backfill's wall time and task rows: `days - 1` runs of `day_s`, then the month-end run."""
    tasks, start = [], STARTED + timedelta(seconds=startup_s)
    for number in range(days):
        length = month_end_s if number == days - 1 else day_s
        end = start + timedelta(seconds=length - 0.5)
        run = {"run_id": f"r{number}", "task_id": "load.load_day", "state": "success"}
        tasks.append({**run, "start": start, "end": end})
        start += timedelta(seconds=length)
    return (start - STARTED).total_seconds(), tasks


def test_a_five_day_run_counts_the_month_end_once():
    wall_s, tasks = backfill(day_s=12.0, month_end_s=30.0, days=5)
    result = summarize(wall_s, STARTED, 5, tasks, [("build", 7.0)] * 5)
    assert (result["per_day_before_month_end_s"], result["month_end_s"]) == (12.0, 30.0)
    assert thirty_days_s(result) == 14.0 + 29 * 12.0 + 30.0


def test_a_thirty_day_run_is_its_own_wall_time():
    wall_s, tasks = backfill(day_s=12.0, month_end_s=30.0, days=30)
    result = summarize(wall_s, STARTED, 30, tasks, [])
    assert thirty_days_s(result) == wall_s == 14.0 + 29 * 12.0 + 30.0

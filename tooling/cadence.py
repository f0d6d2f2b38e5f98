"""The DAG run every N days instead of daily (scripts/run_days.py --every N, `make demo-gcp
EVERY=N`), as if it had been down in between: which days run, and which cadences leave no
day unloaded.

A run for day D loads the days of its lookback window [D - L, D] that it has not loaded
yet (REPLICA_LEDGER_LOOKBACK_DAYS, pipeline.load_day), so runs at most L + 1 days apart
load every day between them.
"""

from __future__ import annotations

from datetime import date, timedelta


def cadence_error(every: int, lookback_days: int) -> str | None:
    """Why runs `every` days apart would leave days unloaded (or make no sense); None if they do not."""
    if not 1 <= every <= lookback_days + 1:
        return f"--every must be 1..{lookback_days + 1}: a run loads the {lookback_days} days before it at most"
    return None


def run_days(first: date, last: date, every: int = 1) -> list[date]:
    """first, first + every, ..., and last (once)."""
    if every < 1:
        raise ValueError(f"--every must be at least 1, got {every}")
    days = [first + timedelta(days=offset) for offset in range(0, (last - first).days + 1, every)]
    return [*days, last] if days and days[-1] != last else days

"""Billing rates as data with effective dates (the dbt seed billing_rates.csv).

dbt bills from the seed; the Slack alert prices the excess of a breach with the same
rows, so the two never disagree.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

RATE_FIELDS = ("base_fee", "vcpu_rate", "memory_rate", "replica_divisor")


def rates_in_force(seed_path: Path, on: date | None = None) -> dict[str, float]:
    """The rate row with the latest effective_from on or before `on` (default: today)."""
    on = on or datetime.now(UTC).date()
    with seed_path.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if date.fromisoformat(row["effective_from"]) <= on]
    if not rows:
        raise ValueError(f"{seed_path}: no billing rates in force on {on}")
    latest = max(rows, key=lambda row: row["effective_from"])
    return {name: float(latest[name]) for name in RATE_FIELDS}

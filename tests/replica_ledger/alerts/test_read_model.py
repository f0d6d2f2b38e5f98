"""The alert's read model keeps one row per episode: its latest (alerts/read_model.py)."""

from __future__ import annotations

from datetime import date

from replica_ledger.alerts.read_model import latest_row_of_each_episode


def row(day: int, deployment: str, status: str, started: int = 2) -> dict:
    return {
        "snapshot_date": date(2026, 10, day),
        "cluster": "eu",
        "namespace": "shop",
        "deployment": deployment,
        "breach_type": "replicas_over_limit",
        "started_on": date(2026, 10, started),
        "status": status,
    }


def test_each_episode_is_read_from_its_latest_day():
    rows = [
        row(2, "a-api", "new"),
        row(2, "b-api", "new"),
        row(3, "a-api", "resolved"),
        row(3, "b-api", "open"),
        row(4, "b-api", "open"),
        row(4, "b-api", "new", started=4),  # a second episode of the same API: its own key
    ]
    assert latest_row_of_each_episode(rows) == [rows[2], rows[4], rows[5]]


def test_no_rows_no_episodes():
    assert latest_row_of_each_episode([]) == []

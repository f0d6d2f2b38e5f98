"""The capture deadline: day D is captured live only in its window [D+1 00:00, D+2 00:00) UTC
(contract §1.1); the platform route hears of D when its run has not got there a set number
of hours before the window closes. Plain time rules and the notice; the Airflow mechanisms
that fire it (deadline alerts on 3.x, SLA misses on 2.11) are ``replica_ledger.airflow.deadline``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from replica_ledger.alerts.blocks import escape_mrkdwn, message_payload, section_block
from replica_ledger.alerts.routes import safe_filename

#: The run for day D has logical date D 00:00 UTC; D's window closes two days later.
WINDOW_CLOSES_AFTER_LOGICAL_DATE = timedelta(days=2)


def capture_window(day: date) -> tuple[datetime, datetime]:
    """[D+1 00:00Z, D+2 00:00Z): when a snapshot labelled D may be taken."""
    start = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def deadline_after_logical_date(hours: int) -> timedelta:
    """The deadline of day D counted from the run's logical date (D 00:00 UTC)."""
    return WINDOW_CLOSES_AFTER_LOGICAL_DATE - timedelta(hours=hours)


def capture_deadline(day: date, hours: int) -> datetime:
    return capture_window(day)[1] - timedelta(hours=hours)


def should_notify(day: date, *, is_backfill: bool, created_at: datetime | None) -> bool:
    """Only a run that could capture D live is late: not a backfill, and created before D's
    window closed (a re-run of an old day was never going to capture it)."""
    if is_backfill:
        return False
    return created_at is None or created_at.astimezone(UTC) < capture_window(day)[1]


def capture_deadline_payload(day: date, *, hours: int, dag_id: str, run_id: str) -> dict[str, Any]:
    """The platform route's notice for day D."""
    closes = capture_window(day)[1]
    deadline = closes - timedelta(hours=hours)
    lines = [
        f":hourglass: *Day {day.isoformat()} not captured yet*: run `{escape_mrkdwn(run_id)}` of"
        f" `{escape_mrkdwn(dag_id)}` has not finished at {deadline:%Y-%m-%d %H:%M} UTC.",
        f"The live capture of {day.isoformat()} is possible until {closes:%Y-%m-%d %H:%M} UTC ({hours} h left);"
        " after that the day stays a gap (snapshots are never taken for a past day).",
        "Check the run: a task waiting for a pool slot, a paused DAG, a failed collector pod.",
    ]
    text = (
        f"Day {day.isoformat()} not captured yet: run {run_id} of {dag_id} has not finished; "
        f"capture possible until {closes:%Y-%m-%d %H:%M} UTC"
    )
    return message_payload(text, [section_block("\n".join(lines))])


def capture_deadline_stem(day: date, run_id: str) -> str:
    return "__".join(safe_filename(part) for part in (day.isoformat(), run_id or "no-run", "capture-deadline"))

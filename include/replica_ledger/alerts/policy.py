"""When a run may post to Slack at all: never for backfills, never for old days."""

from __future__ import annotations

from datetime import UTC, date, datetime

from replica_ledger import clock


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def should_post(
    snapshot_date: date | datetime | str,
    *,
    is_backfill: bool,
    max_age_days: int,
    today: date | None = None,
) -> tuple[bool, str]:
    """Whether a run for ``snapshot_date`` may post alerts, and why (the reason is for the task log).

    False for a backfill run (``RunInfo.is_backfill``) and when the snapshot day is more than
    ``max_age_days`` days before ``today`` (UTC; ``Settings.alert_max_age_days``). The daily
    run for day D runs just after midnight of D+1, so its age is normally 1.
    """
    if max_age_days < 0:
        raise ValueError(f"max_age_days must be >= 0, got {max_age_days}")
    day = _as_date(snapshot_date)
    if is_backfill:
        return False, f"backfill run for {day}: backfills never post to Slack"
    today = today or clock.today()
    age = (today - day).days
    if age > max_age_days:
        return False, f"snapshot day {day} is {age} days old (more than {max_age_days}): no alerts for the past"
    return True, f"snapshot day {day} is {age} day(s) old (limit {max_age_days}): may post"

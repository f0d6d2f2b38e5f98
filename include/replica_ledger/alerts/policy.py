"""When a run may post to Slack at all: never for backfills, never for old days."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

MAX_AGE_ENV = "REPLICA_LEDGER_ALERT_MAX_AGE_DAYS"
DEFAULT_MAX_AGE_DAYS = 2

#: ``DagRunType.BACKFILL_JOB.value`` on Airflow 2.11 and on 3.x alike ("backfill").
BACKFILL_RUN_TYPES = frozenset({"backfill"})
#: Run ids Airflow generates for backfill runs (both versions): ``backfill__<logical date>``.
BACKFILL_RUN_ID_PREFIX = "backfill__"


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    value = getattr(value, "value", value)  # DagRunType is a str Enum; str() of it is not the value
    return str(value)


def run_type_and_id(context_or_fields: Any) -> tuple[str | None, str | None]:
    """(run_type, run_id) from an Airflow context (``dag_run``) or plain fields/attributes."""
    dag_run = _get(context_or_fields, "dag_run")
    run_type = _as_str(_get(dag_run, "run_type")) or _as_str(_get(context_or_fields, "run_type"))
    run_id = _as_str(_get(dag_run, "run_id")) or _as_str(_get(context_or_fields, "run_id"))
    return run_type, run_id


def max_age_days_from_env(default: int = DEFAULT_MAX_AGE_DAYS) -> int:
    raw = os.environ.get(MAX_AGE_ENV, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise ValueError(f"{MAX_AGE_ENV} must be a whole number of days, got {raw!r}") from err
    if value < 0:
        raise ValueError(f"{MAX_AGE_ENV} must be >= 0, got {value}")
    return value


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def should_post(
    context_or_fields: Any,
    snapshot_date: date | datetime | str,
    max_age_days: int | None = None,
    today: date | None = None,
) -> tuple[bool, str]:
    """Whether this run may post alerts, and why (the reason is meant for the task log).

    False for backfill runs (``dag_run.run_type == "backfill"`` on Airflow 2.11 and 3.x, or a
    ``backfill__`` run id) and when the snapshot day is more than ``max_age_days`` days before
    ``today`` (UTC). ``max_age_days`` defaults to ``$REPLICA_LEDGER_ALERT_MAX_AGE_DAYS`` or 2.
    The daily run for day D runs just after midnight of D+1, so its age is normally 1.
    """
    run_type, run_id = run_type_and_id(context_or_fields)
    if run_type in BACKFILL_RUN_TYPES:
        return False, f"backfill run (run_type={run_type}, run_id={run_id}): backfills never post to Slack"
    if run_id and run_id.startswith(BACKFILL_RUN_ID_PREFIX):
        return False, f"backfill run (run_id={run_id}): backfills never post to Slack"
    limit = max_age_days_from_env() if max_age_days is None else int(max_age_days)
    day = _as_date(snapshot_date)
    today = today or datetime.now(UTC).date()
    age = (today - day).days
    if age > limit:
        return False, f"snapshot day {day} is {age} days old (more than {limit}): no alerts for the past"
    return True, f"run_type={run_type}, snapshot day {day} is {age} day(s) old (limit {limit}): may post"

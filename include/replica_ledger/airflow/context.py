"""A task context, turned into plain data once: `RunInfo`.

The rules "which snapshot day is this run for", "is it a backfill" and "is it the current
day" live here and nowhere else. Nothing below `replica_ledger.airflow` reads a task
context: steps receive a `RunInfo` (or its fields). Only context keys both Airflow 2.11 and
3.x provide are read (`logical_date`, `dag_run`, `run_id`, `ti`/`task_instance`, `dag`), and
this module does not import Airflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any

from replica_ledger import clock

#: ``DagRunType.BACKFILL_JOB``'s value, the same string on 2.11 and 3.x (a literal, so that
#: this module stays importable without Airflow).
BACKFILL_RUN_TYPE = "backfill"
#: The run id prefix both versions give backfill runs (``backfill__<logical date>``).
BACKFILL_RUN_ID_PREFIX = "backfill__"


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _as_str(value: Any) -> str:
    value = getattr(value, "value", value)  # DagRunType is a str Enum: str() of it is not its value
    return "" if value is None else str(value)


def is_current_day(day: date, tolerance_days: int, today: date | None = None) -> bool:
    """Whether a run for day D may capture D live: only on D+1 (UTC).

    The run for D normally starts just after midnight on D+1. A snapshot labelled D must be
    taken in [D+1 00:00Z, D+2 00:00Z) (contract §1.1's captured_at window; the collector
    refuses any other day), so a run during D itself, or from D+2 on, reads the archive
    only. `tolerance_days` = 0 turns live capture off; any larger value allows D+1.
    """
    today = today or clock.today()
    return 1 <= (today - day).days <= min(tolerance_days, 1)


def snapshot_day_of(context: Mapping[str, Any]) -> date:
    """The snapshot day D of a run: the UTC date of its logical date.

    The data-interval timetable gives the run for day D the logical date D 00:00 UTC on
    both Airflow versions. A manual Airflow 3 run may have no logical date: it then closes
    the day before the moment it was asked to run after.
    """
    logical = context.get("logical_date")
    if logical is None:
        run_after = _get(context.get("dag_run"), "run_after") or clock.now()
        return (run_after.astimezone(UTC) - timedelta(days=1)).date()
    return logical.astimezone(UTC).date()


@dataclass(frozen=True)
class RunInfo:
    """What a step needs to know about the Airflow run that called it."""

    snapshot_day: date
    run_id: str
    run_type: str
    dag_id: str
    log_url: str | None = None

    @property
    def is_backfill(self) -> bool:
        return self.run_type == BACKFILL_RUN_TYPE or self.run_id.startswith(BACKFILL_RUN_ID_PREFIX)

    def is_current_day(self, tolerance_days: int, today: date | None = None) -> bool:
        """A regular run for the current snapshot day: the only kind that may touch live systems."""
        return not self.is_backfill and is_current_day(self.snapshot_day, tolerance_days, today)

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> RunInfo:
        dag_run = context.get("dag_run")
        ti = context.get("ti") or context.get("task_instance")
        try:
            log_url = _get(ti, "log_url")
        except Exception:  # 2.11 builds it from the webserver config, which may be absent
            log_url = None
        return cls(
            snapshot_day=snapshot_day_of(context),
            run_id=_as_str(context.get("run_id") or _get(dag_run, "run_id")),
            run_type=_as_str(_get(dag_run, "run_type") or context.get("run_type")),
            dag_id=_as_str(_get(context.get("dag"), "dag_id") or _get(dag_run, "dag_id")),
            log_url=log_url,
        )

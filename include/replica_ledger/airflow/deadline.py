"""The capture deadline, through what each Airflow version runs when a run is held back.

Day D's live capture is possible only in [D+1, D+2) UTC (``alerts.deadline``). When
``Settings.capture_deadline_hours`` (H) is set, the platform route hears of D at D+2 00:00 - H
if the run has not got there:

- Airflow 3: a DAG-level deadline alert (``DeadlineAlert``, reference: the run's logical date
  D 00:00, interval 48 h - H). The scheduler checks deadlines on its own loop, whatever the
  run's tasks are doing (waiting for a pool slot, queued behind another run), and hands the
  callback to the executor. It is dropped when the run succeeds before the deadline.
- Airflow 2.11: an SLA on the load task (the first task after the capture; 24 h - H from the
  end of the run's data interval, D+1 00:00, which is what 2.11 counts from) and the DAG's
  ``sla_miss_callback``. The scheduler's DAG processor
  records SLA misses for the days after the task's last success, also for runs not started.
  (2.11 checks SLAs only once the task has succeeded at least once.)

Backfills and re-runs created after D's window closed are never late: they never capture live.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from replica_ledger.alerts.deadline import (
    capture_deadline_payload,
    capture_deadline_stem,
    deadline_after_logical_date,
    should_notify,
)
from replica_ledger.alerts.redact import redact
from replica_ledger.settings import Settings

log = logging.getLogger(__name__)

#: What Airflow 3 imports to run the deadline callback (a top-level function, by path).
CALLBACK_PATH = "replica_ledger.airflow.deadline.capture_deadline_missed"


def dag_deadline_kwargs(settings: Settings) -> dict[str, Any]:
    """The DAG's keyword arguments for the capture deadline: ``deadline`` on 3.x,
    ``sla_miss_callback`` on 2.11 (with :func:`task_sla` on the load task); none when off."""
    hours = settings.capture_deadline_hours
    if not hours:
        return {}
    from replica_ledger.airflow.compat import IS_AIRFLOW_3

    if IS_AIRFLOW_3:
        from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback

        alert = DeadlineAlert(
            reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
            interval=deadline_after_logical_date(hours),
            callback=SyncCallback(CALLBACK_PATH, kwargs={"hours": hours}),
            name="capture_deadline",
        )
        return {"deadline": alert}
    return {"sla_miss_callback": capture_sla_missed}


def task_sla(settings: Settings) -> dict[str, Any]:
    """``sla`` for the load task on 2.11 (Airflow 3 has no task SLA: the DAG's deadline does it)."""
    hours = settings.capture_deadline_hours
    if not hours:
        return {}
    from replica_ledger.airflow.compat import IS_AIRFLOW_3

    # 2.11 measures a task's SLA from the end of the run's data interval (D+1 00:00), not
    # from its logical date: D+1 00:00 + (24 - H) h = D+2 00:00 - H.
    return {} if IS_AIRFLOW_3 else {"sla": deadline_after_logical_date(hours) - timedelta(days=1)}


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def notify_late_day(day: date, *, hours: int, dag_id: str, run_id: str, settings: Settings | None = None) -> str:
    """Tell the platform route that ``day`` is not captured; returns how (for the log and tests)."""
    from replica_ledger.airflow.slack import post_to_slack, slack_connection_exists
    from replica_ledger.alerts.outbox import outbox_of, write_outbox
    from replica_ledger.alerts.text import render_text
    from replica_ledger.settings import load_settings

    settings = settings or load_settings()
    payload = capture_deadline_payload(day, hours=hours, dag_id=dag_id, run_id=run_id)
    conn_id = settings.slack_conn_id
    if slack_connection_exists(conn_id):
        post_to_slack(conn_id, payload)
        log.warning("capture deadline of %s missed by run %s: the platform route was told", day, run_id)
        return "posted"
    outbox = outbox_of(settings)
    if outbox is None:
        log.error("capture deadline of %s missed by run %s; Slack connection %r does not exist", day, run_id, conn_id)
        return "not sent"
    write_outbox(outbox, capture_deadline_stem(day, run_id), payload, render_text(payload))
    return "outbox"


def capture_deadline_missed(context: Mapping[str, Any] | None = None, hours: int = 0, **_: Any) -> str:
    """Airflow 3's deadline callback. ``context`` is what the scheduler sends: ``dag_run`` (the
    run as the REST API shows it: dag_id, dag_run_id, run_type, logical_date, run_after)."""
    run = dict((context or {}).get("dag_run") or {})
    run_id = str(run.get("dag_run_id") or run.get("run_id") or "")  # the REST API calls it dag_run_id
    logical = _as_datetime(run.get("logical_date"))
    if logical is None:
        log.info("capture deadline: run %s has no logical date, no snapshot day", run_id)
        return "skipped"
    day = logical.astimezone(UTC).date()
    created = _as_datetime(run.get("run_after") or run.get("queued_at"))
    if not should_notify(day, is_backfill=run.get("run_type") == "backfill", created_at=created):
        log.info("capture deadline of %s: run %s never captures live; nothing to say", day, run_id)
        return "skipped"
    try:
        return notify_late_day(day, hours=hours, dag_id=str(run.get("dag_id") or ""), run_id=run_id)
    except Exception as err:
        log.error("capture deadline notice of %s not sent: %s: %s", day, type(err).__name__, redact(err))
        raise


def capture_sla_missed(dag, task_list, blocking_task_list, slas, blocking_tis) -> None:
    """Airflow 2.11's ``sla_miss_callback``: one notice per day whose load task missed the SLA.

    2.11 records a miss under the logical date that follows the late run's (``SlaMiss.execution_date``
    is X when X + sla has passed, X being the end of the late run's data interval), so the day
    is the one before it. The SLA is computed from the schedule, not from runs: a backfill
    never makes one, and a run that was never created does.
    """
    from replica_ledger.settings import load_settings

    settings = load_settings()
    for day in sorted({sla.execution_date.astimezone(UTC).date() - timedelta(days=1) for sla in slas}):
        try:
            notify_late_day(
                day,
                hours=settings.capture_deadline_hours,
                dag_id=dag.dag_id,
                run_id=f"scheduled__{day.isoformat()}T00:00:00+00:00",
                settings=settings,
            )
        except Exception as err:  # the other days are still told
            log.error("capture deadline notice of %s not sent: %s: %s", day, type(err).__name__, redact(err))

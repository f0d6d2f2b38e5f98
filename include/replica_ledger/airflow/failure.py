"""on_failure_callback: the failed-task notice (``alerts.failure``) for the platform route.

Works with the context of Airflow 2.11 and 3.x. Posts with the provider's
SlackWebhookNotifier when the connection exists; else writes to the outbox (local runs) or,
in production (no outbox), logs an error naming the connection. It never raises (a failing
callback must not hide the task's own failure) and never logs the webhook URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from replica_ledger.airflow.context import RunInfo
from replica_ledger.alerts.failure import failure_outbox_stem, failure_payload
from replica_ledger.alerts.outbox import default_outbox_dir, write_outbox
from replica_ledger.alerts.redact import redact
from replica_ledger.alerts.routes import DEFAULT_CONN_ID
from replica_ledger.alerts.text import render_text

log = logging.getLogger(__name__)


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        if obj is None:
            return None
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def failure_fields(context: Mapping[str, Any]) -> dict[str, Any]:
    """dag_id, task_id, run_id, logical_date, try_number, log_url, error, problems from a task context.

    The run's id, DAG and log URL come from :class:`RunInfo`; the task, its try and its
    exception are what only a failure context has. The logical date is reported as Airflow
    gave it (none for a manual Airflow 3 run without one), not as the snapshot day.
    ``problems`` is the exception's list of named problems, when it has one (the preflight's).
    """
    run = RunInfo.from_context(context)
    ti = context.get("task_instance") or context.get("ti")
    dag_run = context.get("dag_run")
    logical = (
        context.get("logical_date")
        or _get(dag_run, "logical_date")
        or _get(ti, "logical_date")
        or context.get("execution_date")  # Airflow 2 only
        or _get(ti, "execution_date")
    )
    error = context.get("exception")
    problems = getattr(error, "problems", None) or ()
    return {
        "dag_id": run.dag_id or _get(ti, "dag_id") or "?",
        "task_id": _get(ti, "task_id") or _get(context.get("task"), "task_id") or "?",
        "run_id": run.run_id or _get(ti, "run_id") or "",
        "logical_date": _iso(logical),
        "try_number": _get(ti, "try_number"),
        "log_url": run.log_url,
        "error": None if error is None else f"{type(error).__name__}: {redact(error)}".splitlines()[0],
        "problems": [redact(str(problem)) for problem in problems],
    }


class FailureNotifier:
    """Callable for ``on_failure_callback`` (task or DAG level). Build with :func:`failure_notifier`."""

    def __init__(
        self,
        conn_id: str = DEFAULT_CONN_ID,
        *,
        outbox_dir: str | Path | None = None,
        production: bool = False,
        conn_exists: Callable[[str], bool] | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.outbox_dir = outbox_dir
        self.production = production
        self._conn_exists = conn_exists

    def __call__(self, context: Mapping[str, Any]) -> None:
        try:
            self._notify(context)
        except Exception as err:  # never let the callback raise
            log.warning("Failure notification not sent: %s: %s", type(err).__name__, redact(err))

    def _notify(self, context: Mapping[str, Any]) -> None:
        from replica_ledger.airflow.preflight import NOTIFIED_BY_PREFLIGHT

        if getattr(context.get("exception"), NOTIFIED_BY_PREFLIGHT, False):
            log.info("Failure after a failed preflight: the preflight's notice is the message")
            return
        fields = failure_fields(context)
        payload = failure_payload(fields)
        if self._connection_exists():
            from replica_ledger.airflow.slack import notify_via_provider

            notify_via_provider(self.conn_id, payload, context)
            return
        if self.production:
            log.error(
                "Failure notification of %s.%s not sent: Slack connection %r does not exist (production has no"
                " outbox; the preflight names it too)",
                fields["dag_id"],
                fields["task_id"],
                self.conn_id,
            )
            return
        outbox = Path(self.outbox_dir) if self.outbox_dir is not None else default_outbox_dir()
        path = write_outbox(outbox, failure_outbox_stem(fields), payload, render_text(payload))
        log.info("No Slack connection %r: failure notification written to %s", self.conn_id, path)

    def _connection_exists(self) -> bool:
        if self._conn_exists is not None:
            return self._conn_exists(self.conn_id)
        from replica_ledger.airflow.slack import slack_connection_exists

        return slack_connection_exists(self.conn_id)


def failure_notifier(
    conn_id: str = DEFAULT_CONN_ID,
    *,
    outbox_dir: str | Path | None = None,
    production: bool = False,
    conn_exists: Callable[[str], bool] | None = None,
) -> FailureNotifier:
    """An ``on_failure_callback`` posting one short message via ``conn_id`` (or to the outbox;
    with ``production`` there is no outbox)."""
    return FailureNotifier(conn_id, outbox_dir=outbox_dir, production=production, conn_exists=conn_exists)

"""Slack alerting for replica-ledger: Block Kit messages per team route; each breach episode
announced at most once per route (the ``alert_log`` ledger).

Importing this package is cheap: Airflow, the Slack provider, slack_sdk and duckdb are only
imported inside the functions that use them (DAG files import this while being parsed).

Typical use from an Airflow task::

    from replica_ledger.alerts import AlertBatch, alert_log_for, episodes_from_rows, send_alerts
    from replica_ledger.alerts.read_model import episodes_of_day

    batch = AlertBatch(snapshot_date=day, run_id=context["run_id"], dag_id=dag_id,
                       episodes=episodes_from_rows(episodes_of_day(settings, day)),
                       docs_url=..., run_url=...)
    report = send_alerts(batch, context=context,
                         routes="dbt_project/seeds/team_slack_routes.csv",
                         ledger=alert_log_for(settings))

and ``on_failure_callback=failure_notifier("slack_default_webhook")``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replica_ledger.alerts.deliver import AlertDeliveryError, DeliveryResult, deliver
from replica_ledger.alerts.failure import FailureNotifier, failure_fields, failure_notifier, failure_payload
from replica_ledger.alerts.ledger import (
    AlertLog,
    AlertLogRecord,
    BigQueryAlertLog,
    Claim,
    DuckDBAlertLog,
    alert_log_for,
)
from replica_ledger.alerts.model import (
    BREACH_TYPE_WORDS,
    BREACH_TYPES,
    AlertBatch,
    Episode,
    episode_key,
    episodes_from_rows,
    to_announce,
)
from replica_ledger.alerts.outbox import default_outbox_dir
from replica_ledger.alerts.policy import should_post
from replica_ledger.alerts.render import MAX_BLOCKS, MAX_TEXT, RoutedMessage, render_messages, render_text
from replica_ledger.alerts.routes import DEFAULT_CONN_ID, Route, Routes, load_routes

log = logging.getLogger(__name__)

__all__ = [
    "BREACH_TYPES",
    "BREACH_TYPE_WORDS",
    "DEFAULT_CONN_ID",
    "MAX_BLOCKS",
    "MAX_TEXT",
    "AlertBatch",
    "AlertDeliveryError",
    "AlertLog",
    "AlertLogRecord",
    "AlertRunReport",
    "BigQueryAlertLog",
    "Claim",
    "DeliveryResult",
    "DuckDBAlertLog",
    "Episode",
    "FailureNotifier",
    "Route",
    "RoutedMessage",
    "Routes",
    "alert_log_for",
    "default_outbox_dir",
    "deliver",
    "episode_key",
    "episodes_from_rows",
    "failure_fields",
    "failure_notifier",
    "failure_payload",
    "load_routes",
    "pending_announcements",
    "render_messages",
    "render_text",
    "send_alerts",
    "should_post",
    "to_announce",
]


@dataclass
class AlertRunReport:
    """What :func:`send_alerts` did: ``posted`` False with ``reason`` when the run may not post."""

    allowed: bool
    reason: str
    messages: list[RoutedMessage] = field(default_factory=list)
    results: list[DeliveryResult] = field(default_factory=list)


def _max_age(max_age_days: int | None) -> int:
    from replica_ledger.alerts.policy import max_age_days_from_env

    return max_age_days_from_env() if max_age_days is None else int(max_age_days)


def pending_announcements(
    batch: AlertBatch, routes: Routes, ledger: AlertLog, max_age_days: int | None = None
) -> list[Episode]:
    """The episodes of ``batch`` some route has not been told about yet (nothing is claimed)."""
    pending: list[Episode] = []
    by_route: dict[Route, list[Episode]] = {}
    for ep in to_announce(batch.episodes, batch.snapshot_date, _max_age(max_age_days)):
        by_route.setdefault(routes.for_team(ep.team), []).append(ep)
    for route, episodes in by_route.items():
        announced = ledger.find(route.key, episodes)
        pending += [ep for ep in episodes if ep.key not in announced]
    return pending


def send_alerts(
    batch: AlertBatch,
    *,
    routes: Routes | str | Path,
    ledger: AlertLog,
    context: Any = None,
    outbox_dir: str | Path | None = None,
    max_age_days: int | None = None,
    today: Any = None,
    conn_exists: Callable[[str], bool] | None = None,
    send: Callable[[str, dict[str, Any]], None] | None = None,
) -> AlertRunReport:
    """should_post -> render_messages -> deliver, for one DAG run.

    ``context`` is the Airflow task context (or any mapping/object with ``dag_run`` or
    ``run_type``/``run_id``); without it only ``batch.run_id`` is checked for a backfill.
    Backfills and old days return ``allowed=False`` and touch neither Slack, outbox nor ledger.
    A route hears of each episode once (``to_announce``: new ones, and those a late snapshot
    revealed within ``max_age_days``); ``deliver`` claims them in alert_log.
    Raises :class:`AlertDeliveryError` when a route failed (after trying all of them).
    """
    ok, reason = should_post(
        context if context is not None else {"run_id": batch.run_id}, batch.snapshot_date, max_age_days, today
    )
    if not ok:
        log.info("Not posting alerts: %s", reason)
        return AlertRunReport(False, reason)
    if not isinstance(routes, Routes):
        routes = load_routes(routes)
    announce = to_announce(batch.episodes, batch.snapshot_date, _max_age(max_age_days))
    messages = render_messages(batch, routes, announce)
    if not messages:
        log.info("No breach episodes to announce for %s: nothing to post", batch.snapshot_date)
    results = deliver(messages, ledger=ledger, outbox_dir=outbox_dir, conn_exists=conn_exists, send=send)
    return AlertRunReport(True, reason, messages, results)

"""Slack alerting for replica-ledger: Block Kit messages per team route; each breach episode
announced at most once per route (the ``alert_log`` ledger).

Importing this package is cheap: Airflow, the Slack provider, slack_sdk and duckdb are only
imported inside the functions that use them (DAG files import this while being parsed).

Typical use from an Airflow task::

    from replica_ledger.alerts import AlertBatch, episodes_from_rows, send_alerts
    from replica_ledger.alerts.read_model import episodes_of_day
    from replica_ledger.warehouse import open_warehouse

    run = RunInfo.from_context(context)  # replica_ledger.airflow.context
    oldest = run.snapshot_day - timedelta(days=settings.alert_max_age_days)  # as far as alerts go
    batch = AlertBatch(snapshot_date=run.snapshot_day, run_id=run.run_id, dag_id=run.dag_id,
                       episodes=episodes_from_rows(episodes_of_day(settings, run.snapshot_day, since=oldest)),
                       docs_url=..., run_url=run.log_url)
    report = send_alerts(batch, is_backfill=run.is_backfill,
                         max_age_days=settings.alert_max_age_days,
                         routes="dbt_project/seeds/team_slack_routes.csv",
                         ledger=open_warehouse(settings).alert_log(), transport=SLACK,
                         outbox_dir=None if settings.gcp else settings.slack_outbox)

with ``transport=SLACK`` from ``replica_ledger.airflow.slack``; the failure notice's
``on_failure_callback`` is ``replica_ledger.airflow.failure.failure_notifier``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from replica_ledger.alerts.budget import MAX_BLOCKS, MAX_TEXT
from replica_ledger.alerts.deliver import AlertDeliveryError, DeliveryResult, Transport, deliver
from replica_ledger.alerts.failure import failure_payload
from replica_ledger.alerts.ledger import (
    AlertLog,
    AlertLogRecord,
    Claim,
)
from replica_ledger.alerts.model import (
    BREACH_TYPE_WORDS,
    BREACH_TYPES,
    AlertBatch,
    Crossing,
    Episode,
    episode_key,
    episodes_from_rows,
    to_announce,
)
from replica_ledger.alerts.outbox import default_outbox_dir
from replica_ledger.alerts.policy import should_post
from replica_ledger.alerts.render import RoutedMessage, render_messages
from replica_ledger.alerts.routes import DEFAULT_CONN_ID, Route, Routes, load_routes
from replica_ledger.alerts.text import render_text

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
    "Claim",
    "Crossing",
    "DeliveryResult",
    "Episode",
    "Route",
    "RoutedMessage",
    "Routes",
    "Transport",
    "default_outbox_dir",
    "deliver",
    "episode_key",
    "episodes_from_rows",
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
    """What :func:`send_alerts` did: ``allowed`` False with ``reason`` when the run may not post."""

    allowed: bool
    reason: str
    messages: list[RoutedMessage] = field(default_factory=list)
    results: list[DeliveryResult] = field(default_factory=list)
    #: What the routes file had that was not posted (an invalid mention), one line each.
    problems: list[str] = field(default_factory=list)


def pending_announcements(batch: AlertBatch, routes: Routes, ledger: AlertLog, max_age_days: int) -> list[Episode]:
    """The episodes of ``batch`` some route has not been told about yet (nothing is claimed)."""
    pending: list[Episode] = []
    by_route: dict[Route, list[Episode]] = {}
    for ep in to_announce(batch.episodes, batch.snapshot_date, max_age_days):
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
    is_backfill: bool,
    max_age_days: int,
    transport: Transport,
    outbox_dir: str | Path | None = None,
    today: date | None = None,
) -> AlertRunReport:
    """should_post -> render_messages -> deliver, for one DAG run.

    ``is_backfill`` is the run's ``RunInfo.is_backfill``; ``max_age_days`` is
    ``Settings.alert_max_age_days``. Backfills and old days return ``allowed=False`` and touch
    neither Slack, outbox nor ledger. A route hears of each episode once (``to_announce``: new
    ones, and those a late snapshot revealed within ``max_age_days``); ``deliver`` claims them
    in alert_log; ``transport`` posts (``replica_ledger.airflow.slack.SLACK``), and a route
    without a connection goes to ``outbox_dir`` (local) or, when it is None (production),
    fails. Raises :class:`AlertDeliveryError` when a route failed (after trying all of them).
    """
    ok, reason = should_post(batch.snapshot_date, is_backfill=is_backfill, max_age_days=max_age_days, today=today)
    if not ok:
        log.info("Not posting alerts: %s", reason)
        return AlertRunReport(False, reason)
    if not isinstance(routes, Routes):
        routes = load_routes(routes)
    for problem in routes.problems:
        log.warning("Routes file: %s", problem)
    announce = to_announce(batch.episodes, batch.snapshot_date, max_age_days)
    messages = render_messages(batch, routes, announce)
    if not messages:
        log.info("No breach episodes to announce for %s: nothing to post", batch.snapshot_date)
    results = deliver(messages, ledger=ledger, transport=transport, outbox_dir=outbox_dir)
    return AlertRunReport(True, reason, messages, results, list(routes.problems))

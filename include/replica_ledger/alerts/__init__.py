"""Slack alerting for replica-ledger: Block Kit messages per team route, sent once per run.

Importing this package is cheap: Airflow, the Slack provider, slack_sdk and duckdb are only
imported inside the functions that use them (DAG files import this while being parsed).

Typical use from an Airflow task::

    from replica_ledger.alerts import (
        AlertBatch, DuckDBSentLedger, episodes_from_rows, load_routes, send_alerts,
    )

    batch = AlertBatch(snapshot_date=day, run_id=context["run_id"], dag_id=dag_id,
                       episodes=episodes_from_rows(rows), docs_url=..., run_url=...)
    report = send_alerts(batch, context=context,
                         routes=load_routes("dbt_project/seeds/team_slack_routes.csv"),
                         ledger=DuckDBSentLedger(warehouse_path))

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
from replica_ledger.alerts.ledger import DuckDBSentLedger, InMemorySentLedger, SentLedger, SentRecord
from replica_ledger.alerts.model import (
    BREACH_TYPE_WORDS,
    BREACH_TYPES,
    AlertBatch,
    BillingRates,
    Episode,
    episodes_from_rows,
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
    "AlertRunReport",
    "BillingRates",
    "DeliveryResult",
    "DuckDBSentLedger",
    "Episode",
    "FailureNotifier",
    "InMemorySentLedger",
    "Route",
    "RoutedMessage",
    "Routes",
    "SentLedger",
    "SentRecord",
    "default_outbox_dir",
    "deliver",
    "episodes_from_rows",
    "failure_fields",
    "failure_notifier",
    "failure_payload",
    "load_routes",
    "render_messages",
    "render_text",
    "send_alerts",
    "should_post",
]


@dataclass
class AlertRunReport:
    """What :func:`send_alerts` did: ``posted`` False with ``reason`` when the run may not post."""

    allowed: bool
    reason: str
    messages: list[RoutedMessage] = field(default_factory=list)
    results: list[DeliveryResult] = field(default_factory=list)


def send_alerts(
    batch: AlertBatch,
    *,
    routes: Routes | str | Path,
    ledger: SentLedger,
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
    messages = render_messages(batch, routes)
    if not messages:
        log.info("No new breach episodes for %s: nothing to post", batch.snapshot_date)
    results = deliver(messages, ledger=ledger, outbox_dir=outbox_dir, conn_exists=conn_exists, send=send)
    return AlertRunReport(True, reason, messages, results)

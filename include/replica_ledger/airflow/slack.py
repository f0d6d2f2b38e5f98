"""Posting through the Slack provider (SlackWebhookHook / SlackWebhookNotifier), and whether
an Airflow connection exists.

Airflow, the provider and slack_sdk are imported inside the functions only: the DAG file
imports this package while Airflow parses it. What needs no Airflow (outcome classes,
retry handlers) is ``replica_ledger.alerts.slack``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from replica_ledger.alerts.deliver import Transport
from replica_ledger.alerts.redact import client_logger, redact, register_secret
from replica_ledger.alerts.slack import (
    DEFAULT_TIMEOUT,
    DeliveryUnknownError,
    NotDeliveredError,
    classify,
    make_retry_handlers,
)

log = logging.getLogger(__name__)


def slack_connection_exists(conn_id: str) -> bool:
    """Whether an Airflow connection ``conn_id`` is configured (env var, secrets backend or DB)."""
    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", "").strip():
        return True
    from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def make_hook(conn_id: str, *, timeout: int | None = DEFAULT_TIMEOUT, retry_handlers: list[Any] | None = None):
    """A SlackWebhookHook whose client logs through a quiet, redacting logger.

    The connection's token and URL are registered for redaction before anything is sent.
    """
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    hook = SlackWebhookHook(
        slack_webhook_conn_id=conn_id,
        timeout=timeout,
        retry_handlers=retry_handlers if retry_handlers is not None else make_retry_handlers(),
        logger=client_logger(),
    )
    conn = hook.get_connection(conn_id)
    register_secret(conn.password, conn.host)
    try:
        register_secret(hook.client.url)
    except Exception as err:  # missing token etc.: the hook's own message names no secret
        raise NotDeliveredError(f"Slack connection {conn_id!r} is not usable: {redact(err)}") from None
    return hook


def post_to_slack(
    conn_id: str,
    payload: dict[str, Any],
    *,
    timeout: int | None = DEFAULT_TIMEOUT,
    retry_handlers: list[Any] | None = None,
) -> None:
    """Post ``payload`` ({"text", "blocks"}) with ``SlackWebhookHook.send``.

    Raises :class:`NotDeliveredError` or :class:`DeliveryUnknownError`; messages are redacted
    and the original exception (which may quote the URL) is not chained.
    """
    try:
        hook = make_hook(conn_id, timeout=timeout, retry_handlers=retry_handlers)
        hook.send(text=payload.get("text"), blocks=payload.get("blocks"))
    except (NotDeliveredError, DeliveryUnknownError):
        raise
    except Exception as err:
        raise classify(conn_id, err) from None
    log.info("Posted Slack message via connection %r", conn_id)


def notify_via_provider(conn_id: str, payload: dict[str, Any], context: Any) -> None:
    """Send ``payload`` with the provider's SlackWebhookNotifier (used by the failure callback)."""
    from functools import cached_property

    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    class QuietSlackWebhookNotifier(SlackWebhookNotifier):
        """SlackWebhookNotifier whose hook logs nothing secret (the stock notify() logs the URL)."""

        @cached_property
        def hook(self):
            return make_hook(self.slack_webhook_conn_id, timeout=self.timeout, retry_handlers=self.retry_handlers)

        def notify(self, context):
            resp = self.hook.send(text=self.text, blocks=self.blocks)
            self.log.info(
                "Slack failure notification sent via %r (HTTP %s)",
                self.slack_webhook_conn_id,
                resp.status_code,
            )

    notifier = QuietSlackWebhookNotifier(
        slack_webhook_conn_id=conn_id,
        text=payload.get("text") or "",
        blocks=payload.get("blocks"),
        timeout=DEFAULT_TIMEOUT,
        retry_handlers=make_retry_handlers(max_retries=2, max_wait=30.0),
    )
    # notify() rather than __call__(): __call__ renders text/blocks as Jinja templates, and an
    # exception message with "{{" in it must not break (or be evaluated by) the notification.
    try:
        notifier.notify(context)
    except (NotDeliveredError, DeliveryUnknownError):
        raise
    except Exception as err:
        raise classify(conn_id, err) from None


#: Delivery through Airflow's Slack connections (what the alert task gives `deliver`).
SLACK = Transport(conn_exists=slack_connection_exists, send=post_to_slack)

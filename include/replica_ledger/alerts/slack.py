"""Posting through the Slack provider (SlackWebhookHook / SlackWebhookNotifier).

Airflow, the provider and slack_sdk are imported inside the functions only: DAG files import
``replica_ledger.alerts`` while Airflow parses them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from replica_ledger.alerts.redact import client_logger, redact, register_secret
from replica_ledger.http_retry import RETRYABLE_STATUSES, BackoffSchedule, retry_wait

log = logging.getLogger(__name__)

RETRY_STATUSES = tuple(sorted(RETRYABLE_STATUSES))
DEFAULT_TIMEOUT = 30


class NotDeliveredError(RuntimeError):
    """The message was certainly not posted (Slack said no, or the request never left)."""


class DeliveryUnknownError(RuntimeError):
    """The request may or may not have been posted (e.g. timeout while waiting for the answer)."""


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


def make_retry_handlers(
    *,
    max_retries: int = 3,
    max_wait: float = 60.0,
    backoff_base: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Any]:
    """slack_sdk retry handlers: bounded retries of 429/5xx honouring ``Retry-After``.

    slack_sdk's WebhookClient retries only connection errors by default, and its built-in
    rate-limit handler waits ``Retry-After`` without bound and only understands integers.
    This handler waits ``Retry-After`` (seconds or HTTP-date) or exponential backoff, gives up
    when asked to wait more than ``max_wait`` (the Airflow task retry takes over), and never
    logs the request URL. Connection errors that happen before the request is sent (urllib's
    ``URLError``) are retried once by slack_sdk's own handler.
    """
    from urllib.error import URLError

    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
    from slack_sdk.http_retry.handler import RetryHandler

    # Retry-After as given, else doubling from backoff_base; max_wait bounds every wait.
    schedule = BackoffSchedule(base_s=backoff_base, exact_retry_after=True)

    class RetryAfterHandler(RetryHandler):
        def _wait_for(self, state, response) -> float | None:
            # current_attempt counts retries from 0; the shared schedule counts failed attempts from 1.
            return retry_wait(schedule, state.current_attempt + 1, response.headers, max_wait_s=max_wait)

        def _can_retry(self, *, state, request, response=None, error=None) -> bool:
            if response is None or response.status_code not in RETRY_STATUSES:
                return False
            return self._wait_for(state, response) is not None

        def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
            wait = self._wait_for(state, response)
            log.warning(
                "Slack webhook answered HTTP %s; retrying in %.1fs (retry %d of %d)",
                response.status_code,
                wait,
                state.current_attempt + 1,
                self.max_retry_count,
            )
            sleep(wait)
            state.next_attempt_requested = True
            state.increment_current_attempt()

    return [
        RetryAfterHandler(max_retry_count=max_retries),
        # Only failures to connect/send (URLError): the request was not processed, safe to retry.
        ConnectionErrorRetryHandler(max_retry_count=1, error_types=[URLError]),
    ]


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


def _classify(conn_id: str, err: BaseException) -> RuntimeError:
    """Map an exception from the hook to NotDelivered/DeliveryUnknown, with a redacted message."""
    import http.client
    from urllib.error import URLError

    what = f"{type(err).__name__}: {redact(err)}"
    if isinstance(err, URLError):  # could not connect / send: nothing was processed
        return NotDeliveredError(f"Slack post via {conn_id!r} failed before delivery ({what})")
    if isinstance(err, OSError | http.client.HTTPException):  # e.g. timeout waiting for the answer
        return DeliveryUnknownError(f"Slack post via {conn_id!r} has an unknown outcome ({what})")
    # The hook raises AirflowException for any non-200 answer (after retries): not posted.
    return NotDeliveredError(f"Slack post via {conn_id!r} was not accepted ({what})")


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
        raise _classify(conn_id, err) from None
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
        raise _classify(conn_id, err) from None

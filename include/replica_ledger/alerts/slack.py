"""Slack delivery without Airflow: the outcome classes, the bounded retry handlers for
slack_sdk and the mapping of a hook's exception to an outcome.

The Airflow side (the connection lookup, SlackWebhookHook, SlackWebhookNotifier) is in
``replica_ledger.airflow.slack``; slack_sdk is imported inside the functions only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from replica_ledger.alerts.redact import redact
from replica_ledger.http_retry import RETRYABLE_STATUSES, BackoffSchedule, retry_wait

log = logging.getLogger(__name__)

RETRY_STATUSES = tuple(sorted(RETRYABLE_STATUSES))
DEFAULT_TIMEOUT = 30


class NotDeliveredError(RuntimeError):
    """The message was certainly not posted (Slack said no, or the request never left)."""


class DeliveryUnknownError(RuntimeError):
    """The request may or may not have been posted (e.g. timeout while waiting for the answer)."""


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


def classify(conn_id: str, err: BaseException) -> RuntimeError:
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

"""Deliver rendered messages: to Slack when the route's connection exists, else to the outbox.

Exactly-once is impossible across a crash (the post and the ledger write are not one
transaction), so we choose **at most once**, with the window made as small as we can:

1. *claim*: insert ``(run_id, route)`` into ``ops.notifications_sent`` with ``sent_at`` NULL.
   The insert is atomic (primary key, ``ON CONFLICT DO NOTHING``): whoever inserts the row is
   the only one allowed to post. It is committed before anything is posted.
2. *deliver*: post to Slack (or write the outbox files).
3. *confirm*: set ``sent_at``.  -- or, when we KNOW nothing was posted (Slack answered with
   an error after our bounded retries, the connection was refused, the connection id has
   no token, the outbox could not be written), *release*: delete the claim so that the
   Airflow task retry posts it.

A retry finds the row and skips the route. So does a re-run of the same snapshot day under
another run id (Airflow 3 gives each manual run its own), when its message says the same
thing (same hash of the payload without the run link); a re-run that finds something new
(say, a late snapshot file) posts its message. If the previous attempt died between 1 and 3 (a
worker killed mid-post, or a timeout while waiting for Slack's answer), the row stays with
``sent_at`` NULL: the message may or may not be in Slack, and we do not post it again; the
result says ``unconfirmed`` and a warning is logged. To force a re-post, delete the row
(``DuckDBSentLedger(...).release(run_id, route)``).

The other order (post, then record) would double-post whenever a task died after the post,
which is the failure the issue forbids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from replica_ledger.alerts.ledger import SentLedger
from replica_ledger.alerts.outbox import default_outbox_dir, write_outbox
from replica_ledger.alerts.redact import redact
from replica_ledger.alerts.render import RoutedMessage, render_text

log = logging.getLogger(__name__)

DeliveryStatus = Literal["posted", "outbox", "already_sent", "unconfirmed", "failed"]


class AlertDeliveryError(RuntimeError):
    """Some routes could not be delivered (the others were). Raised after trying all routes."""

    def __init__(self, message: str, results: list[DeliveryResult]):
        super().__init__(message)
        self.results = results


@dataclass(frozen=True)
class DeliveryResult:
    route: str
    run_id: str
    status: DeliveryStatus
    transport: str | None = None
    outbox_path: Path | None = None
    detail: str = ""


def _default_conn_exists(conn_id: str) -> bool:
    from replica_ledger.alerts.slack import slack_connection_exists

    return slack_connection_exists(conn_id)


def _default_send(conn_id: str, payload: dict[str, Any]) -> None:
    from replica_ledger.alerts.slack import post_to_slack

    post_to_slack(conn_id, payload)


def _is_not_delivered(err: BaseException) -> bool:
    from replica_ledger.alerts.slack import NotDeliveredError

    return isinstance(err, NotDeliveredError)


def deliver(
    messages: Iterable[RoutedMessage],
    *,
    ledger: SentLedger,
    outbox_dir: str | Path | None = None,
    conn_exists: Callable[[str], bool] | None = None,
    send: Callable[[str, dict[str, Any]], None] | None = None,
    raise_on_failure: bool = True,
) -> list[DeliveryResult]:
    """Deliver each message once per (run_id, route); see the module docstring.

    * ``conn_exists(conn_id)``: whether to post to Slack (default: the Airflow connection
      exists); otherwise the message goes to ``outbox_dir`` (default
      ``$REPLICA_LEDGER_SLACK_OUTBOX`` or ``.local/outbox``) as ``<stem>.json`` + ``<stem>.txt``.
    * ``send(conn_id, payload)``: posts (default: ``SlackWebhookHook.send`` with bounded
      retries honouring ``Retry-After``). It should raise ``NotDeliveredError`` when the
      message was certainly not posted; any other exception is treated as "maybe posted".

    All routes are tried. When one failed, :class:`AlertDeliveryError` is raised at the end
    (unless ``raise_on_failure`` is False) so that Airflow retries the task; the retry skips
    the routes already delivered.
    """
    conn_exists = conn_exists or _default_conn_exists
    send = send or _default_send
    outbox = Path(outbox_dir) if outbox_dir is not None else default_outbox_dir()
    results: list[DeliveryResult] = []
    for msg in messages:
        route = msg.route
        transport = "slack" if conn_exists(route.slack_conn_id) else "outbox"
        earlier = ledger.find_message(
            snapshot_date=msg.snapshot_date, route=route.key, payload_sha256=msg.payload_sha256
        )
        if earlier is not None and earlier.run_id != msg.run_id:
            # A re-run of the day (a new run id) with nothing new to say: the team heard it.
            log.info(
                "Route %s: run %s already sent this message for %s; not sending it again",
                route.key,
                earlier.run_id,
                msg.snapshot_date,
            )
            results.append(DeliveryResult(route.key, msg.run_id, "already_sent", earlier.transport))
            continue
        claim = ledger.claim(
            run_id=msg.run_id,
            route=route.key,
            snapshot_date=msg.snapshot_date,
            payload_sha256=msg.payload_sha256,
            channel=route.channel or None,
            transport=transport,
        )
        if not claim.acquired:
            rec = claim.record
            changed = "" if rec.payload_sha256 == msg.payload_sha256 else " (the payload has changed since)"
            if rec.confirmed:
                log.info(
                    "Route %s of run %s was already delivered (%s at %s); not sending again%s",
                    route.key,
                    msg.run_id,
                    rec.transport,
                    rec.sent_at,
                    changed,
                )
                results.append(DeliveryResult(route.key, msg.run_id, "already_sent", rec.transport))
            else:
                log.warning(
                    "Route %s of run %s was claimed at %s by an attempt that never confirmed it: it may or"
                    " may not have been posted. Not posting again (at most once)%s. To re-post, delete"
                    " the row from ops.notifications_sent.",
                    route.key,
                    msg.run_id,
                    rec.claimed_at,
                    changed,
                )
                results.append(DeliveryResult(route.key, msg.run_id, "unconfirmed", rec.transport))
            continue

        try:
            if transport == "slack":
                send(route.slack_conn_id, msg.payload)
                path = None
            else:
                path = write_outbox(outbox, msg.outbox_stem, msg.payload, render_text(msg))
        except Exception as err:
            detail = f"{type(err).__name__}: {redact(err)}"
            if transport == "outbox" or _is_not_delivered(err):
                ledger.release(msg.run_id, route.key)
                log.error("Route %s of run %s was not delivered, will retry: %s", route.key, msg.run_id, detail)
                results.append(DeliveryResult(route.key, msg.run_id, "failed", transport, detail=detail))
                continue
            # Outcome unknown: keep the claim so that no retry can post a second copy.
            log.error(
                "Route %s of run %s: outcome unknown, kept as unconfirmed (not re-posted on retry): %s",
                route.key,
                msg.run_id,
                detail,
            )
            results.append(DeliveryResult(route.key, msg.run_id, "unconfirmed", transport, detail=detail))
            continue
        ledger.confirm(msg.run_id, route.key)
        if transport == "slack":
            log.info("Posted run %s to route %s (%d new episodes)", msg.run_id, route.key, msg.new_count)
            results.append(DeliveryResult(route.key, msg.run_id, "posted", transport))
        else:
            log.info("No Slack connection %r: wrote %s", route.slack_conn_id, path)
            results.append(DeliveryResult(route.key, msg.run_id, "outbox", transport, outbox_path=path))

    failed = [r for r in results if r.status == "failed" or (r.status == "unconfirmed" and r.detail)]
    if failed and raise_on_failure:
        raise AlertDeliveryError(
            "Slack alerts not delivered for route(s): " + "; ".join(f"{r.route} ({r.detail})" for r in failed),
            results,
        )
    return results

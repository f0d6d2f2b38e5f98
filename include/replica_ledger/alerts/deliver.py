"""Deliver rendered messages: to Slack when the route's connection exists, else to the outbox.

Each breach episode is announced **at most once** per route. Exactly once cannot hold
across a crash (the post and the ledger write are not one transaction), so the window in
which a crash leaves the outcome unknown is kept as small as possible. The ledger is
``alert_log`` (``ledger.py``), one row per episode announced per route:

1. *claim*: a row per episode the message announces is inserted, status ``failed`` and
   ``sent_at`` NULL ("not confirmed delivered"), with a fresh claim token. An episode that
   already has a row for the route is not claimed again: whoever inserted the row is the
   only one allowed to announce it. The claim is committed before anything is posted.
   When another attempt holds some of the episodes, the message is rendered again for the
   ones this attempt won (none won: nothing to send).
2. *deliver*: the message is posted to Slack (or written to the outbox).
3. *confirm*: status ``sent`` (or ``outbox``), ``sent_at``, and the hash of the message that
   carried them. -- or, when nothing was certainly posted (Slack answered with an error
   after the bounded retries, the connection was refused, the connection id has no token,
   the outbox could not be written), *release*: the claimed rows are deleted so that the
   Airflow task retry announces them.

A retry of the task, a re-run of the day under another run id, the next day's run seeing
the episode still open: all find the rows and do not announce the episode again. A late
snapshot file that reveals a new episode gets a message about that episode only. If an
attempt died between 1 and 3 (a worker killed mid-post, a timeout while waiting for
Slack's answer), the rows stay ``failed``: the message may or may not be in Slack, and it
is not posted again; the result says ``unconfirmed`` and a warning is logged. To force a
re-post, delete those rows from alert_log.

Posting first and recording afterwards would post twice whenever a task died after the post.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from replica_ledger.alerts.ledger import AlertLog, AlertLogRecord
from replica_ledger.alerts.outbox import default_outbox_dir, write_outbox
from replica_ledger.alerts.redact import redact
from replica_ledger.alerts.render import RoutedMessage
from replica_ledger.alerts.text import render_text

log = logging.getLogger(__name__)

DeliveryStatus = Literal["posted", "outbox", "already_sent", "unconfirmed", "failed"]
#: alert_log status -> how it went out (a failed row's transport is unknown).
_TRANSPORT = {"sent": "slack", "outbox": "outbox"}


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
    ledger: AlertLog,
    outbox_dir: str | Path | None = None,
    conn_exists: Callable[[str], bool] | None = None,
    send: Callable[[str, dict[str, Any]], None] | None = None,
) -> list[DeliveryResult]:
    """Deliver each message, announcing each of its episodes at most once per route.

    * ``conn_exists(conn_id)``: whether to post to Slack (default: the Airflow connection
      exists); otherwise the message goes to ``outbox_dir`` (default
      ``$REPLICA_LEDGER_SLACK_OUTBOX`` or ``.local/outbox``) as ``<stem>.json`` + ``<stem>.txt``.
    * ``send(conn_id, payload)``: posts (default: ``SlackWebhookHook.send`` with bounded
      retries honouring ``Retry-After``). It should raise ``NotDeliveredError`` when the
      message was certainly not posted; any other exception is treated as "maybe posted".

    All routes are tried. When one failed, :class:`AlertDeliveryError` is raised at the end
    so that Airflow retries the task; the retry skips the episodes already announced.
    """
    conn_exists = conn_exists or _default_conn_exists
    send = send or _default_send
    outbox = Path(outbox_dir) if outbox_dir is not None else default_outbox_dir()
    results = [_deliver_one(msg, ledger=ledger, outbox=outbox, conn_exists=conn_exists, send=send) for msg in messages]
    failed = [r for r in results if r.status == "failed" or (r.status == "unconfirmed" and r.detail)]
    if failed:
        raise AlertDeliveryError(
            "Slack alerts not delivered for route(s): " + "; ".join(f"{r.route} ({r.detail})" for r in failed),
            results,
        )
    return results


def _deliver_one(msg: RoutedMessage, *, ledger: AlertLog, outbox: Path, conn_exists, send) -> DeliveryResult:
    route = msg.route
    transport = "slack" if conn_exists(route.slack_conn_id) else "outbox"
    claim = ledger.claim(
        route=route.key,
        run_id=msg.run_id,
        snapshot_date=msg.snapshot_date,
        episodes=msg.announced,
        message_hash=msg.payload_sha256,
    )
    if not claim.won:
        return _nothing_left(msg, list(claim.held.values()))
    if claim.won != {ep.key for ep in msg.announced}:
        log.info(
            "Route %s: %d of %d episode(s) were already announced; sending the others only",
            route.key,
            len(msg.announced) - len(claim.won),
            len(msg.announced),
        )
        msg = msg.narrowed(claim.won)
    try:
        if transport == "slack":
            send(route.slack_conn_id, msg.payload)
            path = None
        else:
            path = write_outbox(outbox, msg.outbox_stem, msg.payload, render_text(msg))
    except Exception as err:
        detail = f"{type(err).__name__}: {redact(err)}"
        if transport == "outbox" or _is_not_delivered(err):
            ledger.release(claim.token)
            log.error("Route %s of run %s was not delivered, will retry: %s", route.key, msg.run_id, detail)
            return DeliveryResult(route.key, msg.run_id, "failed", transport, detail=detail)
        # Outcome unknown: keep the claim so that no retry can post a second copy.
        log.error(
            "Route %s of run %s: outcome unknown, kept as unconfirmed (not re-posted on retry): %s",
            route.key,
            msg.run_id,
            detail,
        )
        return DeliveryResult(route.key, msg.run_id, "unconfirmed", transport, detail=detail)
    ledger.confirm(claim.token, status="sent" if transport == "slack" else "outbox", message_hash=msg.payload_sha256)
    if transport == "slack":
        log.info("Posted run %s to route %s (%d episode(s) announced)", msg.run_id, route.key, msg.new_count)
        return DeliveryResult(route.key, msg.run_id, "posted", transport)
    log.info("No Slack connection %r: wrote %s", route.slack_conn_id, path)
    return DeliveryResult(route.key, msg.run_id, "outbox", transport, outbox_path=path)


def _nothing_left(msg: RoutedMessage, held: list[AlertLogRecord]) -> DeliveryResult:
    """Every episode of the message is already in alert_log for the route."""
    route = msg.route.key
    unconfirmed = [rec for rec in held if not rec.confirmed]
    if unconfirmed:
        rec = unconfirmed[0]
        log.warning(
            "Route %s: %d episode(s) were claimed (first by run %s at %s) by an attempt that never confirmed"
            " them: they may or may not have been posted. Not posting again (at most once). To re-post,"
            " delete their rows (status failed) from alert_log.",
            route,
            len(unconfirmed),
            rec.run_id,
            rec.claimed_at,
        )
        return DeliveryResult(route, msg.run_id, "unconfirmed", _TRANSPORT.get(rec.status))
    first = held[0] if held else None
    log.info(
        "Route %s: every episode of run %s was already announced (first by run %s); not sending again",
        route,
        msg.run_id,
        first.run_id if first else "?",
    )
    return DeliveryResult(route, msg.run_id, "already_sent", _TRANSPORT.get(first.status) if first else None)

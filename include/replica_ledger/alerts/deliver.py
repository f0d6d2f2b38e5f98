"""Deliver rendered messages: to Slack when the route's connection exists, else to the outbox
(local runs) or nowhere (production: the route fails, naming its connection).

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
2. *deliver*: the message is posted to Slack (or written to the outbox, locally).
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

Without an outbox (``outbox_dir=None``: REPLICA_LEDGER_ENV=gcp) a route whose connection
is missing is an error: nothing is claimed, so alert_log keeps the episode unsent and the
first run after the connection exists posts it once. A message on a worker's disk is not
an alert anybody reads.

How a message leaves is a :class:`Transport` (the Airflow connections and the Slack
provider's hook: ``replica_ledger.airflow.slack.SLACK``), so this module imports no Airflow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from replica_ledger.alerts.ledger import AlertLog, AlertLogRecord
from replica_ledger.alerts.outbox import write_outbox
from replica_ledger.alerts.redact import redact
from replica_ledger.alerts.render import RoutedMessage
from replica_ledger.alerts.slack import NotDeliveredError
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
class Transport:
    """How a message leaves: whether a route's Slack connection exists, and how to post to it.

    ``send(conn_id, payload)`` should raise ``NotDeliveredError`` when the message was
    certainly not posted; any other exception is treated as "maybe posted".
    """

    conn_exists: Callable[[str], bool]
    send: Callable[[str, dict[str, Any]], None]


def missing_connection_message(conn_id: str, route: str) -> str:
    """What a production run says when a route's Slack connection does not exist."""
    return (
        f"Slack connection {conn_id!r} of route {route} does not exist; production has no outbox: add the"
        " connection (Secret Manager or an Airflow connection) and the next run posts the episode"
    )


@dataclass(frozen=True)
class DeliveryResult:
    route: str
    run_id: str
    status: DeliveryStatus
    transport: str | None = None
    outbox_path: Path | None = None
    detail: str = ""


def deliver(
    messages: Iterable[RoutedMessage],
    *,
    ledger: AlertLog,
    transport: Transport,
    outbox_dir: str | Path | None = None,
) -> list[DeliveryResult]:
    """Deliver each message, announcing each of its episodes at most once per route.

    A route whose connection exists (``transport.conn_exists``) is posted to with
    ``transport.send``. Otherwise the message goes to ``outbox_dir`` as ``<stem>.json`` +
    ``<stem>.txt`` (local runs); with ``outbox_dir=None`` (production) the route fails
    naming its connection and nothing is claimed.

    All routes are tried. When one failed, :class:`AlertDeliveryError` is raised at the end
    so that Airflow retries the task; the retry skips the episodes already announced.
    """
    outbox = Path(outbox_dir) if outbox_dir is not None else None
    results = [_deliver_one(msg, ledger=ledger, outbox=outbox, transport=transport) for msg in messages]
    failed = [r for r in results if r.status == "failed" or (r.status == "unconfirmed" and r.detail)]
    if failed:
        raise AlertDeliveryError(
            "Slack alerts not delivered for route(s): " + "; ".join(f"{r.route} ({r.detail})" for r in failed),
            results,
        )
    return results


def _deliver_one(msg: RoutedMessage, *, ledger: AlertLog, outbox: Path | None, transport: Transport) -> DeliveryResult:
    route = msg.route
    transport_name = "slack" if transport.conn_exists(route.slack_conn_id) else "outbox"
    if transport_name == "outbox" and outbox is None:
        # Checked before the claim: alert_log gets no row, so the episode stays unsent and
        # the first run that finds the connection announces it.
        detail = missing_connection_message(route.slack_conn_id, route.key)
        log.error("Route %s of run %s was not delivered: %s", route.key, msg.run_id, detail)
        return DeliveryResult(route.key, msg.run_id, "failed", None, detail=detail)
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
        if transport_name == "slack":
            transport.send(route.slack_conn_id, msg.payload)
            path = None
        else:
            path = write_outbox(outbox, msg.outbox_stem, msg.payload, render_text(msg))
    except Exception as err:
        detail = f"{type(err).__name__}: {redact(err)}"
        if transport_name == "outbox" or isinstance(err, NotDeliveredError):
            ledger.release(claim.token)
            log.error("Route %s of run %s was not delivered, will retry: %s", route.key, msg.run_id, detail)
            return DeliveryResult(route.key, msg.run_id, "failed", transport_name, detail=detail)
        # Outcome unknown: keep the claim so that no retry can post a second copy.
        log.error(
            "Route %s of run %s: outcome unknown, kept as unconfirmed (not re-posted on retry): %s",
            route.key,
            msg.run_id,
            detail,
        )
        return DeliveryResult(route.key, msg.run_id, "unconfirmed", transport_name, detail=detail)
    status = "sent" if transport_name == "slack" else "outbox"
    ledger.confirm(claim.token, status=status, message_hash=msg.payload_sha256)
    if transport_name == "slack":
        log.info("Posted run %s to route %s (%d episode(s) announced)", msg.run_id, route.key, msg.new_count)
        return DeliveryResult(route.key, msg.run_id, "posted", transport_name)
    log.info("No Slack connection %r: wrote %s", route.slack_conn_id, path)
    return DeliveryResult(route.key, msg.run_id, "outbox", transport_name, outbox_path=path)


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

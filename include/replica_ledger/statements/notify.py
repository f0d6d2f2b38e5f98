"""The Slack message of each new team statement version, once per version and route.

One message per team statement version, to the team's route (alerts/routes.py): the month,
the total with its currency, the change against the month before, the breach episodes, and
the link to the statement (`REPLICA_LEDGER_STATEMENTS_URL` + its folder; the file's place
when no URL base is set). A restatement says what changed and why. Delivery is the
alerts' seam (a `alerts.deliver.Transport`: Slack through the route's connection, the
outbox locally, a missing connection fails in production) and `statement_log` is the
record (statements/ledger.py): a version with a row for its route is never announced
again. A backfill records its versions `withheld` and posts nothing. Every text from the
data goes through `safe_text.for_slack` (alerts.blocks).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from replica_ledger.alerts.blocks import (
    context_block,
    escape_mrkdwn,
    header_block,
    link,
    message_payload,
    section_block,
)
from replica_ledger.alerts.outbox import write_outbox
from replica_ledger.alerts.redact import redact
from replica_ledger.alerts.routes import Route, Routes, safe_filename
from replica_ledger.alerts.slack import NotDeliveredError
from replica_ledger.alerts.text import render_text
from replica_ledger.money import money_text
from replica_ledger.safe_text import one_line
from replica_ledger.statements.model import TeamStatement
from replica_ledger.statements.render import CHANGE_WORDS, month_name

log = logging.getLogger(__name__)
# Restated lines named in one message; the statement itself lists them all.
MAX_CHANGED_LINES = 10


@dataclass(frozen=True)
class StatementMessage:
    statement: TeamStatement
    route: Route
    payload: dict[str, Any]

    @property
    def sha256(self) -> str:
        canonical = json.dumps(self.payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def outbox_stem(self) -> str:
        s = self.statement
        return f"statement__{s.month:%Y-%m}__{safe_filename(s.team)}__v{s.version}__{self.route.safe_name}"

    def text(self) -> str:
        channel = f", channel {one_line(self.route.channel)}" if self.route.channel else ""
        head = f"route: {one_line(self.route.key)} (connection {one_line(self.route.slack_conn_id)}{channel})\n\n"
        return head + render_text(self.payload)


def statement_link(statement: TeamStatement, base_url: str | None, location: str) -> str:
    """The statement's URL under the base, or where it lies when no base is set."""
    if base_url:
        return f"{base_url}/{statement.folder}/statement.html"
    return location


def _signed(value: Decimal, currency: str) -> str:
    text = money_text(value, currency)
    return text if value < 0 else f"+{text}"


def render_message(statement: TeamStatement, route: Route, currency: str, url: str) -> StatementMessage:
    header = statement.header
    month = month_name(statement.month)
    team = escape_mrkdwn(statement.team)
    total = money_text(header["total_amount"], currency)
    # The header is plain text and holds no text from the data: the team is named below.
    title = (
        f"{month} statement restated (version {statement.version})"
        if header["is_restatement"]
        else f"{month} statement"
    )
    previous = header["previous_month_total"]
    if previous is None:
        against = "no statement the month before"
    else:
        against = f"{_signed(Decimal(header['total_amount']) - Decimal(previous), currency)} against the month before"
        against += f" ({money_text(previous, currency)})"
    summary = (
        f"*Team:* {team}\n"
        f"*Total:* {total} for {header['api_count']} API(s), {against}\n"
        f"*Breach episodes in the month:* {header['breach_episodes']}\n"
        f"*Statement:* {link(url, f'{month}, {statement.team}, version {statement.version}')}"
    )
    blocks = [header_block(title), section_block(summary)]
    fallback = f"{escape_mrkdwn(month)} statement of {team}: {total}"
    if header["is_restatement"]:
        changed = [line for line in statement.lines if line["change_kind"] in ("added", "restated", "removed")]
        lines = []
        for line in changed[:MAX_CHANGED_LINES]:
            before = "-" if line["previous_amount"] is None else money_text(line["previous_amount"], currency)
            after = "-" if line["amount"] is None else money_text(line["amount"], currency)
            why = f": {escape_mrkdwn(line['restatement_reason'])}" if line["restatement_reason"] else ""
            api = escape_mrkdwn(f"{line['namespace']}/{line['deployment']}")
            lines.append(f"• {api} ({CHANGE_WORDS[line['change_kind']]}): {before} → {after}{why}")
        if len(changed) > MAX_CHANGED_LINES:
            lines.append(f"… and {len(changed) - MAX_CHANGED_LINES} more line(s): see the statement")
        was = money_text(header["previous_version_total"], currency)
        heading = f"*What changed since version {statement.version - 1}* ({was} → {total}):"
        blocks.append(section_block("\n".join([heading, *lines])))
        fallback = f"{escape_mrkdwn(month)} statement of {team} restated (version {statement.version}): {total}"
    blocks.append(context_block([f"Amounts in {escape_mrkdwn(currency)}; the bill of each API is on the statement."]))
    return StatementMessage(statement, route, message_payload(fallback, blocks))


@dataclass(frozen=True)
class Announced:
    month: date
    team: str
    version: int
    route: str
    status: str  # posted | outbox | withheld | already_announced | failed | unconfirmed
    detail: str = ""


def announce(
    statements: list[TeamStatement],
    *,
    routes: Routes,
    ledger,
    transport,
    outbox_dir: str | Path | None,
    currency: str,
    run_id: str,
    is_backfill: bool,
    urls: dict[tuple[date, str, int], str],
) -> list[Announced]:
    """Announce each version not announced yet on its team's route (withhold it in a backfill).

    Raises `StatementDeliveryError` at the end when a route could not be reached (the others
    were), so that the task's retry announces what is left and nothing twice.
    """
    results = []
    for statement in statements:
        route = routes.for_team(statement.team)
        url = urls[(statement.month, statement.team, statement.version)]
        message = render_message(statement, route, currency, url)
        results.append(_announce_one(message, ledger, transport, outbox_dir, run_id, is_backfill))
    failed = [r for r in results if r.status in ("failed",) or (r.status == "unconfirmed" and r.detail)]
    if failed:
        raise StatementDeliveryError(
            "statement messages not delivered: "
            + "; ".join(f"{r.route} {r.team} v{r.version} ({r.detail})" for r in failed),
            results,
        )
    return results


class StatementDeliveryError(RuntimeError):
    def __init__(self, message: str, results: list[Announced]):
        super().__init__(message)
        self.results = results


def _announce_one(
    message: StatementMessage, ledger, transport, outbox_dir, run_id: str, is_backfill: bool
) -> Announced:
    s, route = message.statement, message.route
    key = {"route": route.key, "month": s.month, "team": s.team, "version": s.version}
    result = {"month": s.month, "team": s.team, "version": s.version, "route": route.key}
    if is_backfill:
        token = ledger.claim(**key, run_id=run_id, message_hash=message.sha256, status="withheld")
        return Announced(**result, status="withheld" if token else "already_announced")
    over_slack = transport.conn_exists(route.slack_conn_id)
    if not over_slack and outbox_dir is None:
        from replica_ledger.alerts.deliver import missing_connection_message

        detail = missing_connection_message(route.slack_conn_id, route.key)
        log.error("statement %s v%s of %s not announced: %s", s.month, s.version, s.team, detail)
        return Announced(**result, status="failed", detail=detail)
    token = ledger.claim(**key, run_id=run_id, message_hash=message.sha256, status="failed")
    if token is None:
        return Announced(**result, status="already_announced")
    try:
        if over_slack:
            transport.send(route.slack_conn_id, message.payload)
        else:
            write_outbox(outbox_dir, message.outbox_stem, message.payload, message.text())
    except Exception as err:
        detail = f"{type(err).__name__}: {redact(err)}"
        if not over_slack or isinstance(err, NotDeliveredError):
            ledger.release(token)
            return Announced(**result, status="failed", detail=detail)
        log.error("statement %s v%s of %s: outcome unknown, not posted again: %s", s.month, s.version, s.team, detail)
        return Announced(**result, status="unconfirmed", detail=detail)
    ledger.confirm(token, status="sent" if over_slack else "outbox")
    return Announced(**result, status="posted" if over_slack else "outbox")

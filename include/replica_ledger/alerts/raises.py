"""The platform route's notice of a PED raise: an API's approved max went up, by how much,
and what it adds to the monthly bill.

The raises and their charges come from the dbt model ``mart_limit_raises`` (the bill's
charge macro, the rates in force the day PED approved it); this module only words them,
with every amount through ``money.money_text``. Who may post is ``policy.should_post`` (never
a backfill, never an old day), as for the breach alerts; each change id is announced at
most once per route, ``limit_raise_log`` (``raise_log.py``) being the record: claim before
posting, confirm after, release only when nothing was certainly posted (``deliver.py``
explains the same protocol for alert_log). A raise approved in the days a run may still
speak of (``Settings.alert_max_age_days``) and not announced yet is announced by the first
run allowed to post: one a backfill skipped, or whose PED row arrived late.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from replica_ledger.alerts.blocks import context_block, header_block, link, message_payload, section_block
from replica_ledger.alerts.budget import MAX_BLOCKS, name_list
from replica_ledger.alerts.deliver import DeliveryResult, Transport, missing_connection_message
from replica_ledger.alerts.model import _utc
from replica_ledger.alerts.outbox import write_outbox
from replica_ledger.alerts.policy import should_post
from replica_ledger.alerts.raise_log import RaiseLog
from replica_ledger.alerts.redact import redact
from replica_ledger.alerts.routes import Route, Routes, safe_filename
from replica_ledger.alerts.slack import NotDeliveredError
from replica_ledger.alerts.text import render_text
from replica_ledger.money import money_text
from replica_ledger.safe_text import for_slack

log = logging.getLogger(__name__)

# Header, summary context, links context.
_FIXED_BLOCKS = 3


@dataclass(frozen=True)
class LimitRaise:
    """One row of mart_limit_raises: a PED change that raised an API's approved max."""

    change_id: str
    namespace: str
    deployment: str
    team: str
    approved_at: datetime  # naive UTC
    old_max_replicas: int
    new_max_replicas: int
    old_monthly_charge: Decimal | None
    new_monthly_charge: Decimal | None
    added_monthly_charge: Decimal | None

    @property
    def api(self) -> str:
        return f"{self.namespace}/{self.deployment}"


def _money(value: object) -> Decimal | None:
    # str() first: whatever the driver returns (Decimal('351') from BigQuery) stays exact.
    return None if value is None or value == "" else Decimal(str(value))


def raises_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[LimitRaise]:
    """Raises from rows of ``warehouse.queries.limit_raise_rows``."""
    return [
        LimitRaise(
            change_id=str(row["change_id"]),
            namespace=str(row["namespace"]),
            deployment=str(row["deployment"]),
            team=str(row.get("team") or row["namespace"]),
            approved_at=_utc(row["approved_at"]),  # type: ignore[arg-type]
            old_max_replicas=int(row["old_max_replicas"]),
            new_max_replicas=int(row["new_max_replicas"]),
            old_monthly_charge=_money(row.get("old_monthly_charge")),
            new_monthly_charge=_money(row.get("new_monthly_charge")),
            added_monthly_charge=_money(row.get("added_monthly_charge")),
        )
        for row in rows
    ]


def raises_of_day(settings: Any, day: date, *, bigquery_client: Any = None) -> list[LimitRaise]:
    """The raises approved on ``day`` and the days before it a run may still speak of."""
    from replica_ledger.warehouse import open_warehouse, queries

    since = day - timedelta(days=settings.alert_max_age_days)
    return raises_from_rows(
        queries.limit_raise_rows(open_warehouse(settings, bigquery_client=bigquery_client), since, day)
    )


# --------------------------------------------------------------------------------------------
# Wording


def raise_text(raise_: LimitRaise, currency: str, ped_url_template: str | None = None) -> str:
    """One raise as a mrkdwn section: the API, old and new max, what it adds to the bill."""
    lines = [
        f"*{for_slack(raise_.api)}* (team {for_slack(raise_.team)}): approved max"
        f" *{raise_.old_max_replicas} → {raise_.new_max_replicas}*, from"
        f" {raise_.approved_at:%Y-%m-%d %H:%M} UTC (PED change `{for_slack(raise_.change_id)}`)."
    ]
    if raise_.added_monthly_charge is None or raise_.new_monthly_charge is None or raise_.old_monthly_charge is None:
        lines.append("Adds an unknown amount to the monthly bill (no rates in force that day).")
    else:
        lines.append(
            f"Adds *{money_text(raise_.added_monthly_charge, currency)}* a month to the bill:"
            f" {money_text(raise_.old_monthly_charge, currency)} at max {raise_.old_max_replicas}"
            f" → {money_text(raise_.new_monthly_charge, currency)} at max {raise_.new_max_replicas}."
        )
    if ped_url_template:
        url = ped_url_template.format(namespace=raise_.namespace, deployment=raise_.deployment)
        lines.append(link(url, f"PED: {raise_.api}"))
    return "\n".join(lines)


@dataclass
class RaiseNotice:
    """The notice of one run to the platform route, ready to post (``payload``)."""

    route: Route
    snapshot_date: date
    run_id: str
    payload: dict[str, Any]
    raises: list[LimitRaise] = field(default_factory=list)
    #: What it was rendered from, so that it can be rendered again for fewer raises.
    context: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def payload_sha256(self) -> str:
        """What the notice says, without its last block (the run link, which differs per run)."""
        content = {**self.payload, "blocks": self.payload.get("blocks", [])[:-1]}
        canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def outbox_stem(self) -> str:
        day, run, route = self.snapshot_date.isoformat(), safe_filename(self.run_id), self.route.safe_name
        return f"{day}__{run}__{route}__limit-raises"

    def narrowed(self, change_ids: set[str]) -> RaiseNotice:
        return render_raise_notice([r for r in self.raises if r.change_id in change_ids], **self.context)


def render_raise_notice(
    raises: list[LimitRaise],
    *,
    route: Route,
    snapshot_date: date,
    run_id: str,
    dag_id: str,
    currency: str,
    ped_url_template: str | None = None,
    run_url: str | None = None,
    mention: str | None = None,
) -> RaiseNotice:
    """One message announcing ``raises`` (one section each; those beyond Slack's 50 blocks
    named in an overflow section). ``mention`` is a validated ``<!subteam^ID>`` (routes)."""
    context = {
        "route": route,
        "snapshot_date": snapshot_date,
        "run_id": run_id,
        "dag_id": dag_id,
        "currency": currency,
        "ped_url_template": ped_url_template,
        "run_url": run_url,
        "mention": mention,
    }
    n = len(raises)
    word = "limit raise" if n == 1 else "limit raises"
    summary = f"*{n}* PED {word} approved up to {snapshot_date.isoformat()}, each with what it adds to the bill"
    if mention:
        summary = f"{mention} {summary}"
    room = MAX_BLOCKS - _FIXED_BLOCKS
    shown = raises if n <= room else raises[: room - 1]
    body = [section_block(raise_text(r, currency, ped_url_template)) for r in shown]
    rest = raises[len(shown) :]
    if rest:
        prefix = f"_…and {len(rest)} more_ (too many for one Slack message)"
        body.append(section_block(name_list(prefix, [for_slack(r.api) for r in rest])))
    run_label = f"run {run_id}"
    footer = (link(run_url, run_label) if run_url else for_slack(run_label)) + f" · DAG {for_slack(dag_id)}"
    blocks = [
        header_block(f"PED raised {n} approved {'max' if n == 1 else 'maxima'} ({snapshot_date.isoformat()})"),
        context_block([summary + "."]),
        *body,
        context_block([footer]),
    ]
    text = "Replica ledger: PED raised the approved max of " + ", ".join(
        for_slack(r.api)
        + (f" (+{money_text(r.added_monthly_charge, currency)} a month)" if r.added_monthly_charge else "")
        for r in raises
    )
    return RaiseNotice(route, snapshot_date, run_id, message_payload(text, blocks), list(raises), context)


def _short(raise_: LimitRaise, currency: str) -> str:
    """The API and what its raise adds, for the notification's one line."""
    added = raise_.added_monthly_charge
    return for_slack(raise_.api) + ("" if added is None else f" (+{money_text(added, currency)} a month)")


# --------------------------------------------------------------------------------------------
# Sending


@dataclass
class RaiseRunReport:
    """What :func:`send_raise_notices` did: ``allowed`` False with ``reason`` when it may not post."""

    allowed: bool
    reason: str
    #: The notice as delivered (only the raises this attempt won the claim of).
    notice: RaiseNotice | None = None
    result: DeliveryResult | None = None


def pending_raises(raises: list[LimitRaise], route: Route, ledger: RaiseLog) -> list[LimitRaise]:
    """The raises ``route`` was not told about yet (nothing is claimed)."""
    known = ledger.find(route.key, [r.change_id for r in raises])
    return [r for r in raises if r.change_id not in known]


def send_raise_notices(
    raises: list[LimitRaise],
    *,
    routes: Routes,
    ledger: RaiseLog,
    is_backfill: bool,
    max_age_days: int,
    transport: Transport,
    snapshot_date: date,
    run_id: str,
    dag_id: str,
    currency: str,
    ped_url_template: str | None = None,
    run_url: str | None = None,
    outbox_dir: str | Path | None = None,
    today: date | None = None,
) -> RaiseRunReport:
    """should_post -> the raises the platform route (the default route) has not heard of ->
    one notice, claimed in limit_raise_log before it is posted (or written to the outbox
    locally; in production a missing connection fails, claiming nothing)."""
    ok, reason = should_post(snapshot_date, is_backfill=is_backfill, max_age_days=max_age_days, today=today)
    if not ok:
        log.info("Not posting limit raise notices: %s", reason)
        return RaiseRunReport(False, reason)
    route = routes.default
    pending = pending_raises(raises, route, ledger)
    if not pending:
        return RaiseRunReport(True, reason)
    notice = render_raise_notice(
        pending,
        route=route,
        snapshot_date=snapshot_date,
        run_id=run_id,
        dag_id=dag_id,
        currency=currency,
        ped_url_template=ped_url_template,
        run_url=run_url,
        mention=routes.mention_for("*"),
    )
    result, sent = _deliver(notice, ledger, transport, outbox_dir)
    return RaiseRunReport(True, reason, sent, result)


def _deliver(
    notice: RaiseNotice, ledger: RaiseLog, transport: Transport, outbox_dir: str | Path | None
) -> tuple[DeliveryResult, RaiseNotice | None]:
    route = notice.route
    via_slack = transport.conn_exists(route.slack_conn_id)
    if not via_slack and outbox_dir is None:
        detail = missing_connection_message(route.slack_conn_id, route.key)
        log.error("Limit raise notice of run %s not delivered: %s", notice.run_id, detail)
        return DeliveryResult(route.key, notice.run_id, "failed", None, detail=detail), None
    claim = ledger.claim(
        route=route.key,
        run_id=notice.run_id,
        snapshot_date=notice.snapshot_date,
        raises=notice.raises,
        message_hash=notice.payload_sha256,
    )
    if not claim.won:
        status = "already_sent" if all(rec.confirmed for rec in claim.held.values()) else "unconfirmed"
        return DeliveryResult(route.key, notice.run_id, status), None
    if claim.won != {r.change_id for r in notice.raises}:
        notice = notice.narrowed(claim.won)
    transport_name = "slack" if via_slack else "outbox"
    try:
        if via_slack:
            transport.send(route.slack_conn_id, notice.payload)
            path = None
        else:
            path = write_outbox(outbox_dir, notice.outbox_stem, notice.payload, render_text(notice.payload))  # type: ignore[arg-type]
    except Exception as err:
        detail = f"{type(err).__name__}: {redact(err)}"
        if not via_slack or isinstance(err, NotDeliveredError):
            ledger.release(claim.token)
            log.error("Limit raise notice of run %s not delivered, will retry: %s", notice.run_id, detail)
            return DeliveryResult(route.key, notice.run_id, "failed", transport_name, detail=detail), None
        log.error("Limit raise notice of run %s: outcome unknown, not re-posted: %s", notice.run_id, detail)
        return DeliveryResult(route.key, notice.run_id, "unconfirmed", transport_name, detail=detail), notice
    ledger.confirm(claim.token, status="sent" if via_slack else "outbox", message_hash=notice.payload_sha256)
    status = "posted" if via_slack else "outbox"
    log.info("PED limit raise notice of run %s to route %s: %s", notice.run_id, route.key, status)
    return DeliveryResult(route.key, notice.run_id, status, transport_name, path), notice

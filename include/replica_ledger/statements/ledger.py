"""``statement_log``: which team statement version each Slack route was told about.

One row per (route, billing_month, team, team_version), next to ``alert_log`` in the dbt
target schema of both warehouses (``warehouse.duckdb.DuckDBStatementLog``,
``warehouse.bigquery.BigQueryStatementLog``; ``open_warehouse(settings).statement_log()``).
Never built nor dropped by dbt, so it survives a rebuild. The protocol is alert_log's
(alerts/ledger.py): *claim* (status ``failed``) before posting, *confirm* (``sent`` or
``outbox``) after, *release* only when nothing was certainly posted; a version with a row
for its route is never claimed again, so it is announced at most once. A version a backfill
wrote is recorded ``withheld``: backfills never post, and no later run announces it.

Columns: billing_month DATE, team, route, status, message_hash, run_id, claim_token STRING,
team_version INT, sent_at, claimed_at TIMESTAMP (naive UTC).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from replica_ledger import clock

TABLE = "statement_log"
STATUSES = ("failed", "sent", "outbox", "withheld")
CONFIRMED_STATUSES = ("sent", "outbox")
COLUMNS = (
    "billing_month",
    "team",
    "team_version",
    "route",
    "status",
    "sent_at",
    "message_hash",
    "run_id",
    "claim_token",
    "claimed_at",
)
COLUMN_LIST = ", ".join(COLUMNS)


@dataclass(frozen=True)
class StatementLogRecord:
    billing_month: date
    team: str
    team_version: int
    route: str
    status: str
    sent_at: datetime | None
    message_hash: str | None
    run_id: str
    claim_token: str
    claimed_at: datetime


@runtime_checkable
class StatementLog(Protocol):
    def claim(
        self, *, route: str, month: date, team: str, version: int, run_id: str, message_hash: str, status: str
    ) -> str | None:
        """Our claim token when the (route, version) had no row and is now ours; None when
        some row (any status) holds it already."""
        ...

    def confirm(self, token: str, *, status: str) -> None: ...

    def release(self, token: str) -> None: ...

    def records(self) -> list[StatementLogRecord]: ...


def new_token() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return clock.now().replace(tzinfo=None)


def check_status(status: str, allowed: tuple[str, ...] = STATUSES) -> None:
    if status not in allowed:
        raise ValueError(f"statement_log status must be one of {allowed}, got {status!r}")

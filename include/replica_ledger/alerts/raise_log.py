"""``limit_raise_log``: which PED raise of a limit the platform route was told about.

The record of the raise notice (``alerts/raises.py``), kept like ``alert_log``
(``ledger.py``, whose module docstring explains the protocol and why a claim cannot be won
twice on either warehouse): one row per change id announced per route, in the dbt target
schema (DuckDB ``main.limit_raise_log``, BigQuery ``<dataset>.limit_raise_log``), created by
the warehouse if missing, never built nor dropped by dbt, so a rebuild keeps it. Each
warehouse implements :class:`RaiseLog` (``warehouse.duckdb.DuckDBRaiseLog``,
``warehouse.bigquery.BigQueryRaiseLog``; ``open_warehouse(settings).raise_log()``).

Columns::

    change_id           STRING     the PED change that raised the max
    namespace, deployment          the API
    route               STRING     Route.key
    status              STRING     'failed' (claimed, not confirmed), 'sent', 'outbox'
    sent_at             TIMESTAMP  UTC, set on confirmation
    message_hash        STRING     sha256 of the notice (without its run link)
    snapshot_date       DATE       the run's day
    run_id, claim_token STRING
    claimed_at          TIMESTAMP  UTC

Claim (rows ``failed``) before posting, confirm after, release only when nothing was
certainly posted: a crash in between leaves ``failed`` rows and the change is never
announced again (at most once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from replica_ledger.alerts.ledger import new_token, utcnow

RAISE_TABLE = "limit_raise_log"

RAISE_COLUMNS = (
    "change_id",
    "namespace",
    "deployment",
    "route",
    "status",
    "sent_at",
    "message_hash",
    "snapshot_date",
    "run_id",
    "claim_token",
    "claimed_at",
)
RAISE_COLUMN_LIST = ", ".join(RAISE_COLUMNS)


@dataclass(frozen=True)
class RaiseLogRecord:
    """One row of limit_raise_log."""

    change_id: str
    namespace: str
    deployment: str
    route: str
    status: str
    sent_at: datetime | None
    message_hash: str | None
    snapshot_date: date
    run_id: str
    claim_token: str
    claimed_at: datetime

    @property
    def confirmed(self) -> bool:
        return self.status in ("sent", "outbox")


@dataclass(frozen=True)
class RaiseClaim:
    """What :meth:`RaiseLog.claim` got: the change ids ours to announce, and the rows of
    those another attempt holds (change id -> its row)."""

    token: str
    won: set[str] = field(default_factory=set)
    held: dict[str, RaiseLogRecord] = field(default_factory=dict)


@runtime_checkable
class RaiseLog(Protocol):
    """The raise notice's ledger. ``claim`` never gives one (route, change id) to two attempts."""

    def claim(
        self, *, route: str, run_id: str, snapshot_date: date, raises: list[Any], message_hash: str
    ) -> RaiseClaim: ...

    def confirm(self, token: str, *, status: str, message_hash: str) -> None: ...

    def release(self, token: str) -> None: ...

    def find(self, route: str, change_ids: list[str]) -> dict[str, RaiseLogRecord]: ...

    def records(self) -> list[RaiseLogRecord]: ...


def claim_rows(
    route: str, run_id: str, snapshot_date: date, raises: list[Any], message_hash: str
) -> tuple[str, list[dict[str, Any]]]:
    """A fresh token and one row per raise (``change_id``, ``namespace``, ``deployment``
    attributes), status failed until confirmed."""
    token, now = new_token(), utcnow()
    rows = [
        {
            "change_id": raise_.change_id,
            "namespace": raise_.namespace,
            "deployment": raise_.deployment,
            "route": route,
            "status": "failed",
            "sent_at": None,
            "message_hash": message_hash,
            "snapshot_date": snapshot_date,
            "run_id": run_id,
            "claim_token": token,
            "claimed_at": now,
        }
        for raise_ in raises
    ]
    return token, rows

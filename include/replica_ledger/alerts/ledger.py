"""``alert_log``: which breach episode each Slack route was told about (contract §2, §5).

One row per breach episode announced per route, on both warehouses, in the dbt target
schema (DuckDB ``main.alert_log``, BigQuery ``<dataset>.alert_log``). This module holds the
protocol and the rows; each warehouse implements it (``warehouse.duckdb.DuckDBAlertLog``,
``warehouse.bigquery.BigQueryAlertLog``; ``open_warehouse(settings).alert_log()`` picks
one). The table is created there if missing, never built nor dropped by dbt (dbt declares it as
the source ``alerts.alert_log`` for the lineage), so it survives a full rebuild.

Columns (the contract's first, then ours)::

    snapshot_date       DATE       snapshot day of the run that announced the episode
    cluster, namespace, deployment, breach_type
    episode_started_on  DATE       with the four above: the episode
    route               STRING     Route.key
    status              STRING     'failed' (claimed, delivery not confirmed), 'sent', 'outbox'
    sent_at             TIMESTAMP  UTC, set on confirmation; NULL while 'failed'
    message_hash        STRING     sha256 of the message (without its run link) that carried it
    episode_key         STRING     the episode as one string (models.episode_key)
    team, run_id        STRING
    claim_token         STRING     unique per claiming attempt
    claimed_at          TIMESTAMP  UTC

Protocol (see ``deliver``): *claim* the route's episodes (rows with status ``failed``,
``sent_at`` NULL, our ``claim_token``) before posting; *confirm* (status ``sent`` or
``outbox``, ``sent_at``, ``message_hash``) after; *release* (delete our rows) only when
we KNOW nothing was posted. A crash between claim and confirm leaves ``failed`` rows: the
message may be in Slack, so the episode is never posted again (at most once). An episode
that already has a row for the route, whatever its status, is never claimed again.

How a claim cannot be won twice:

* DuckDB: the natural key (route + episode) is the primary key and the claim is
  ``INSERT ... ON CONFLICT DO NOTHING`` in one transaction; the rows that carry our token
  afterwards are ours. A concurrent transaction that inserted the same key and committed
  first makes ours fail as a whole (DuckDB's optimistic concurrency: a constraint or
  transaction conflict error, nothing written); we retry it, and it then skips the other's
  rows.
* BigQuery has no unique constraint, and by its DML documentation ("Concurrent jobs",
  "DML statement conflicts") an INSERT never conflicts with a concurrent DML statement,
  nor does a MERGE that only inserts (only UPDATE/DELETE of the same partition conflict);
  each statement reads a snapshot taken when it starts. So two claimers running
  ``MERGE ... WHEN NOT MATCHED THEN INSERT`` at the same moment may both insert a row for
  the same episode. The claim therefore reads the rows back after its MERGE committed and
  wins an episode only when its own row is the ONLY row for it; on a tie it deletes its
  own row (only a loser ever deletes). Why at most one wins: if A's read-back did not see
  B's row, B committed after A's read, so B's read-back (after B's commit, hence after
  A's) sees A's row, which A, having won, keeps: B loses. If both see both, both give up:
  nobody posts now and a later run announces the episode; if one gives up before the
  other reads, the other wins alone. Confirm (UPDATE) and release (DELETE) are mutating
  statements: two at once on the table may conflict, BigQuery re-runs the loser a few
  times, and if it still fails the task fails with the rows left ``failed`` (maybe
  posted): never a second post. Reads after a committed DML statement are consistent (we
  never stream rows, which would go through the streaming buffer).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol, runtime_checkable

from replica_ledger import clock
from replica_ledger.alerts.model import Episode, episode_key

TABLE = "alert_log"

CONFIRMED_STATUSES = ("sent", "outbox")

COLUMNS = (
    "snapshot_date",
    "cluster",
    "namespace",
    "deployment",
    "breach_type",
    "episode_started_on",
    "route",
    "status",
    "sent_at",
    "message_hash",
    "episode_key",
    "team",
    "run_id",
    "claim_token",
    "claimed_at",
)
COLUMN_LIST = ", ".join(COLUMNS)


def utcnow() -> datetime:
    """Naive UTC now (the ledger stores naive UTC timestamps on DuckDB)."""
    return clock.now().replace(tzinfo=None)


@dataclass(frozen=True)
class AlertLogRecord:
    """One row of alert_log."""

    snapshot_date: date
    cluster: str
    namespace: str
    deployment: str
    breach_type: str
    episode_started_on: date
    route: str
    status: str
    sent_at: datetime | None
    message_hash: str | None
    episode_key: str
    team: str | None
    run_id: str
    claim_token: str
    claimed_at: datetime

    @property
    def confirmed(self) -> bool:
        return self.status in CONFIRMED_STATUSES

    @property
    def key(self) -> tuple[str, str, str, str, date]:
        return (self.cluster, self.namespace, self.deployment, self.breach_type, self.episode_started_on)


@dataclass(frozen=True)
class Claim:
    """What :meth:`AlertLog.claim` got: ``won`` episode keys are ours to announce; ``held``
    are those some other attempt holds (key -> its row)."""

    token: str
    won: set = field(default_factory=set)
    held: dict = field(default_factory=dict)


@runtime_checkable
class AlertLog(Protocol):
    """The sent ledger. ``claim`` must never give one (route, episode) to two attempts."""

    def claim(
        self, *, route: str, run_id: str, snapshot_date: date, episodes: list[Episode], message_hash: str | None
    ) -> Claim: ...

    def confirm(self, token: str, *, status: str, message_hash: str, sent_at: datetime | None = None) -> None: ...

    def release(self, token: str) -> None: ...

    def find(self, route: str, episodes: Iterable[Episode]) -> dict: ...

    def records(self, route: str | None = None) -> list[AlertLogRecord]: ...


def new_token() -> str:
    return uuid.uuid4().hex


def check_confirm_status(status: str) -> None:
    if status not in CONFIRMED_STATUSES:
        raise ValueError(f"confirm status must be one of {CONFIRMED_STATUSES}, got {status!r}")


def new_claim(
    route: str, run_id: str, snapshot_date: date, episodes: list[Episode], message_hash: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """A fresh claim token and the rows claiming each episode with it (status failed until confirmed)."""
    token = new_token()
    return token, _claim_rows(token, route, run_id, snapshot_date, episodes, message_hash)


def _claim_rows(
    token: str, route: str, run_id: str, snapshot_date: date, episodes: list[Episode], message_hash: str | None
) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "snapshot_date": snapshot_date,
            "cluster": ep.cluster,
            "namespace": ep.namespace,
            "deployment": ep.deployment,
            "breach_type": ep.breach_type,
            "episode_started_on": ep.started_on,
            "route": route,
            "status": "failed",
            "sent_at": None,
            "message_hash": message_hash,
            "episode_key": ep.episode_key,
            "team": ep.team,
            "run_id": run_id,
            "claim_token": token,
            "claimed_at": now,
        }
        for ep in episodes
    ]


def naive_utc(value: Any) -> Any:
    """BigQuery returns aware UTC datetimes; the records hold naive UTC like DuckDB's."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


__all__ = [
    "COLUMNS",
    "COLUMN_LIST",
    "CONFIRMED_STATUSES",
    "TABLE",
    "AlertLog",
    "AlertLogRecord",
    "Claim",
    "episode_key",
    "new_claim",
]

"""Record of what was sent, so that a retried task never posts the same message twice.

Table ``ops.notifications_sent``, one row per (run_id, route)::

    run_id          VARCHAR    the DAG run
    route           VARCHAR    Route.key (connection id, or connection id#channel)
    snapshot_date   DATE
    payload_sha256  VARCHAR    sha256 of the canonical JSON payload without its run link
    sent_at         TIMESTAMP  UTC; NULL while the delivery is in flight (claimed, not confirmed)
    channel         VARCHAR    the route's channel label
    transport       VARCHAR    'slack' or 'outbox'
    claimed_at      TIMESTAMP  UTC, when the row was claimed

The protocol is claim -> deliver -> confirm (or release). See ``deliver`` for why. Before
claiming, ``deliver`` also asks :meth:`SentLedger.find_message` whether another run already
sent the same message for the same snapshot day and route (a re-run of the day): then it
does not post again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

SCHEMA = "ops"
TABLE = "notifications_sent"

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.{TABLE} (
    run_id         VARCHAR NOT NULL,
    route          VARCHAR NOT NULL,
    snapshot_date  DATE NOT NULL,
    payload_sha256 VARCHAR NOT NULL,
    sent_at        TIMESTAMP,
    channel        VARCHAR,
    transport      VARCHAR,
    claimed_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, route)
);
"""

_COLUMNS = "run_id, route, snapshot_date, payload_sha256, sent_at, channel, transport, claimed_at"


def utcnow() -> datetime:
    """Naive UTC now (the ledger stores naive UTC timestamps)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class SentRecord:
    run_id: str
    route: str
    snapshot_date: date
    payload_sha256: str
    sent_at: datetime | None
    channel: str | None
    transport: str | None
    claimed_at: datetime

    @property
    def confirmed(self) -> bool:
        return self.sent_at is not None


@dataclass(frozen=True)
class Claim:
    """Result of :meth:`SentLedger.claim`: ``acquired`` is True for the caller that inserted the row."""

    acquired: bool
    record: SentRecord


@runtime_checkable
class SentLedger(Protocol):
    """Where deliveries are recorded. ``claim`` must be atomic per (run_id, route)."""

    def claim(
        self,
        *,
        run_id: str,
        route: str,
        snapshot_date: date,
        payload_sha256: str,
        channel: str | None,
        transport: str,
    ) -> Claim: ...

    def confirm(self, run_id: str, route: str, sent_at: datetime | None = None) -> None: ...

    def release(self, run_id: str, route: str) -> None: ...

    def get(self, run_id: str, route: str) -> SentRecord | None: ...

    def find_message(self, *, snapshot_date: date, route: str, payload_sha256: str) -> SentRecord | None: ...

    def records(self, run_id: str | None = None) -> list[SentRecord]: ...


class InMemorySentLedger:
    """A :class:`SentLedger` in a dict, for unit tests of rendering/delivery logic."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], SentRecord] = {}
        self._lock = threading.Lock()

    def claim(self, *, run_id, route, snapshot_date, payload_sha256, channel, transport) -> Claim:
        with self._lock:
            existing = self._rows.get((run_id, route))
            if existing is not None:
                return Claim(False, existing)
            rec = SentRecord(run_id, route, snapshot_date, payload_sha256, None, channel, transport, utcnow())
            self._rows[(run_id, route)] = rec
            return Claim(True, rec)

    def confirm(self, run_id: str, route: str, sent_at: datetime | None = None) -> None:
        with self._lock:
            rec = self._rows[(run_id, route)]
            self._rows[(run_id, route)] = replace(rec, sent_at=sent_at or utcnow())

    def release(self, run_id: str, route: str) -> None:
        with self._lock:
            self._rows.pop((run_id, route), None)

    def get(self, run_id: str, route: str) -> SentRecord | None:
        return self._rows.get((run_id, route))

    def find_message(self, *, snapshot_date: date, route: str, payload_sha256: str) -> SentRecord | None:
        same = [
            r
            for r in self._rows.values()
            if (r.snapshot_date, r.route, r.payload_sha256) == (snapshot_date, route, payload_sha256)
        ]
        return min(same, key=lambda r: r.claimed_at, default=None)

    def records(self, run_id: str | None = None) -> list[SentRecord]:
        rows = [r for r in self._rows.values() if run_id is None or r.run_id == run_id]
        return sorted(rows, key=lambda r: (r.run_id, r.route))


class DuckDBSentLedger:
    """:class:`SentLedger` in DuckDB (``ops.notifications_sent``, created if missing).

    Give it an open ``duckdb`` connection (used as is, never closed here) or a database path
    (a short-lived connection is opened per operation, so the file is not held locked between
    calls). Every statement runs in DuckDB's autocommit mode: a claim is durable before the
    message is posted.
    """

    def __init__(self, conn_or_path: Any) -> None:
        if isinstance(conn_or_path, str | Path):
            self._path: str | None = str(conn_or_path)
            self._conn = None
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        else:
            self._path = None
            self._conn = conn_or_path
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute(DDL)

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        with self._lock:
            if self._conn is not None:
                yield self._conn
                return
            import duckdb

            con = duckdb.connect(self._path)
            try:
                yield con
            finally:
                con.close()

    @staticmethod
    def _record(row: tuple) -> SentRecord:
        return SentRecord(*row)

    def claim(self, *, run_id, route, snapshot_date, payload_sha256, channel, transport) -> Claim:
        now = utcnow()
        with self._connect() as con:
            inserted = con.execute(
                f"INSERT INTO {SCHEMA}.{TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?, NULL, ?, ?, ?) "
                f"ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
                [run_id, route, snapshot_date, payload_sha256, channel, transport, now],
            ).fetchall()
            if inserted:
                return Claim(True, self._record(inserted[0]))
            row = con.execute(
                f"SELECT {_COLUMNS} FROM {SCHEMA}.{TABLE} WHERE run_id = ? AND route = ?", [run_id, route]
            ).fetchone()
        return Claim(False, self._record(row))

    def confirm(self, run_id: str, route: str, sent_at: datetime | None = None) -> None:
        with self._connect() as con:
            con.execute(
                f"UPDATE {SCHEMA}.{TABLE} SET sent_at = ? WHERE run_id = ? AND route = ?",
                [sent_at or utcnow(), run_id, route],
            )

    def release(self, run_id: str, route: str) -> None:
        with self._connect() as con:
            con.execute(f"DELETE FROM {SCHEMA}.{TABLE} WHERE run_id = ? AND route = ?", [run_id, route])

    def get(self, run_id: str, route: str) -> SentRecord | None:
        with self._connect() as con:
            row = con.execute(
                f"SELECT {_COLUMNS} FROM {SCHEMA}.{TABLE} WHERE run_id = ? AND route = ?", [run_id, route]
            ).fetchone()
        return self._record(row) if row else None

    def find_message(self, *, snapshot_date: date, route: str, payload_sha256: str) -> SentRecord | None:
        with self._connect() as con:
            row = con.execute(
                f"SELECT {_COLUMNS} FROM {SCHEMA}.{TABLE} WHERE snapshot_date = ? AND route = ? AND payload_sha256 = ?"
                " ORDER BY claimed_at LIMIT 1",
                [snapshot_date, route, payload_sha256],
            ).fetchone()
        return self._record(row) if row else None

    def records(self, run_id: str | None = None) -> list[SentRecord]:
        sql = f"SELECT {_COLUMNS} FROM {SCHEMA}.{TABLE}"
        params: list[Any] = []
        if run_id is not None:
            sql += " WHERE run_id = ?"
            params.append(run_id)
        with self._connect() as con:
            rows = con.execute(sql + " ORDER BY run_id, route", params).fetchall()
        return [self._record(r) for r in rows]

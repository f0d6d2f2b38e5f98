"""``alert_log``: which breach episode each Slack route was told about (contract §2, §5).

One row per breach episode announced per route, on both warehouses, in the dbt target
schema (DuckDB ``main.alert_log``, BigQuery ``<dataset>.alert_log``). The table belongs to
this module: created here if missing, never built nor dropped by dbt (dbt declares it as
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

import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from replica_ledger.alerts.model import Episode, episode_key

TABLE = "alert_log"
DUCKDB_SCHEMA = "main"

ClaimedStatus = Literal["failed", "sent", "outbox"]
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
_COLUMN_LIST = ", ".join(COLUMNS)

DUCKDB_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {DUCKDB_SCHEMA};
CREATE TABLE IF NOT EXISTS {DUCKDB_SCHEMA}.{TABLE} (
    snapshot_date      DATE NOT NULL,
    cluster            VARCHAR NOT NULL,
    namespace          VARCHAR NOT NULL,
    deployment         VARCHAR NOT NULL,
    breach_type        VARCHAR NOT NULL,
    episode_started_on DATE NOT NULL,
    route              VARCHAR NOT NULL,
    status             VARCHAR NOT NULL CHECK (status IN ('failed', 'sent', 'outbox')),
    sent_at            TIMESTAMP,
    message_hash       VARCHAR,
    episode_key        VARCHAR NOT NULL,
    team               VARCHAR,
    run_id             VARCHAR NOT NULL,
    claim_token        VARCHAR NOT NULL,
    claimed_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (route, cluster, namespace, deployment, breach_type, episode_started_on)
);
"""

BIGQUERY_DDL = """
CREATE TABLE IF NOT EXISTS `{table}` (
    snapshot_date      DATE NOT NULL,
    cluster            STRING NOT NULL,
    namespace          STRING NOT NULL,
    deployment         STRING NOT NULL,
    breach_type        STRING NOT NULL,
    episode_started_on DATE NOT NULL,
    route              STRING NOT NULL,
    status             STRING NOT NULL,
    sent_at            TIMESTAMP,
    message_hash       STRING,
    episode_key        STRING NOT NULL,
    team               STRING,
    run_id             STRING NOT NULL,
    claim_token        STRING NOT NULL,
    claimed_at         TIMESTAMP NOT NULL
)
CLUSTER BY route, episode_key
OPTIONS (description = 'One row per breach episode announced per Slack route; written by the alert task only')
"""


def utcnow() -> datetime:
    """Naive UTC now (the ledger stores naive UTC timestamps on DuckDB)."""
    return datetime.now(UTC).replace(tzinfo=None)


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


def _check_confirm_status(status: str) -> None:
    if status not in CONFIRMED_STATUSES:
        raise ValueError(f"confirm status must be one of {CONFIRMED_STATUSES}, got {status!r}")


def _new_claim(
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


# --------------------------------------------------------------------------- DuckDB


class DuckDBAlertLog:
    """:class:`AlertLog` in DuckDB (``main.alert_log``, created if missing).

    Give it an open ``duckdb`` connection (used as is, never closed here) or a database path
    (a short-lived connection per operation, so the file is not held locked between calls).
    A claim commits before anything is posted.
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
            con.execute(DUCKDB_DDL)

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

    def _select(self, con, where: str, params: list) -> list[AlertLogRecord]:
        rows = con.execute(
            f"SELECT {_COLUMN_LIST} FROM {DUCKDB_SCHEMA}.{TABLE} WHERE {where} ORDER BY route, episode_key", params
        ).fetchall()
        return [AlertLogRecord(*row) for row in rows]

    def _insert_claims(self, con, rows: list[dict[str, Any]]) -> None:
        placeholders = ", ".join("?" for _ in COLUMNS)
        con.execute("BEGIN TRANSACTION")
        try:
            for row in rows:
                con.execute(
                    f"INSERT INTO {DUCKDB_SCHEMA}.{TABLE} ({_COLUMN_LIST}) VALUES ({placeholders}) "
                    "ON CONFLICT DO NOTHING",
                    [row[name] for name in COLUMNS],
                )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise

    def claim(self, *, route, run_id, snapshot_date, episodes, message_hash) -> Claim:
        import duckdb

        token, rows = _new_claim(route, run_id, snapshot_date, episodes, message_hash)
        with self._connect() as con:
            for attempt in range(3):
                try:
                    self._insert_claims(con, rows)
                    break
                except (duckdb.TransactionException, duckdb.ConstraintException):
                    # Another connection committed a row for the same key while our
                    # transaction ran (ON CONFLICT only sees committed rows): nothing of ours
                    # was written; retry, and ON CONFLICT DO NOTHING now sees its rows.
                    if attempt == 2:
                        raise
            ours = {rec.key for rec in self._select(con, "claim_token = ?", [token])}
            held = self._find(con, route, [ep for ep in episodes if ep.key not in ours])
        return Claim(token, ours, held)

    def _find(self, con, route: str, episodes: Iterable[Episode]) -> dict:
        keys = [ep.episode_key for ep in episodes]
        if not keys:
            return {}
        found = self._select(con, "route = ? AND list_contains(?, episode_key)", [route, keys])
        return {rec.key: rec for rec in found}

    def find(self, route: str, episodes: Iterable[Episode]) -> dict:
        """Episode key -> its alert_log row for ``route``, for those of ``episodes`` that have one."""
        with self._connect() as con:
            return self._find(con, route, list(episodes))

    def confirm(self, token: str, *, status: str, message_hash: str, sent_at: datetime | None = None) -> None:
        _check_confirm_status(status)
        with self._connect() as con:
            con.execute(
                f"UPDATE {DUCKDB_SCHEMA}.{TABLE} SET status = ?, sent_at = ?, message_hash = ? WHERE claim_token = ?",
                [status, sent_at or utcnow(), message_hash, token],
            )

    def release(self, token: str) -> None:
        with self._connect() as con:
            con.execute(f"DELETE FROM {DUCKDB_SCHEMA}.{TABLE} WHERE claim_token = ?", [token])

    def records(self, route: str | None = None) -> list[AlertLogRecord]:
        with self._connect() as con:
            if route is None:
                return self._select(con, "true", [])
            return self._select(con, "route = ?", [route])


# --------------------------------------------------------------------------- BigQuery

_BQ_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:-]+$")
_ARRAY_COLUMNS = ("cluster", "namespace", "deployment", "breach_type", "episode_started_on", "episode_key", "team")


def _bq_param(name: str, value: Any):
    from google.cloud import bigquery

    if isinstance(value, list):
        return bigquery.ArrayQueryParameter(name, "STRING", value)
    kind = "TIMESTAMP" if isinstance(value, datetime) else "DATE" if isinstance(value, date) else "STRING"
    return bigquery.ScalarQueryParameter(name, kind, value)


class BigQueryAlertLog:
    """:class:`AlertLog` in BigQuery (``<project>.<dataset>.alert_log``, created if missing).

    Needs only a ``google.cloud.bigquery.Client`` (injectable: production builds one from
    the environment, tests give one pointed at an emulator). Every statement is one query
    job with named parameters; see the module docstring for why the claim is safe.
    """

    def __init__(self, client: Any, dataset: str, project: str | None = None) -> None:
        project = project or client.project
        table = f"{project}.{dataset}.{TABLE}"
        if not _BQ_IDENTIFIER.match(table):
            raise ValueError(f"not a BigQuery table id: {table!r}")
        self._client = client
        self.table = table
        self._run(BIGQUERY_DDL.format(table=table), {})

    def _run(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=[_bq_param(k, v) for k, v in params.items()])
        job = self._client.query(sql, job_config=config)
        return [dict(row.items()) for row in job.result()]

    def _select(self, where: str, params: dict[str, Any]) -> list[AlertLogRecord]:
        rows = self._run(
            f"SELECT {_COLUMN_LIST} FROM `{self.table}` WHERE {where} ORDER BY route, episode_key, claimed_at",
            params,
        )
        return [AlertLogRecord(**{name: _naive(row[name]) for name in COLUMNS}) for row in rows]

    def claim(self, *, route, run_id, snapshot_date, episodes, message_hash) -> Claim:
        token, rows = _new_claim(route, run_id, snapshot_date, episodes, message_hash)
        if not rows:
            return Claim(token)
        # Parallel arrays, one element per episode (the i-th of each is one row).
        arrays = {name: [str(row[name]) for row in rows] for name in _ARRAY_COLUMNS}
        self._run(
            f"""
            MERGE `{self.table}` AS t
            USING (
                SELECT
                    k AS episode_key,
                    @clusters[OFFSET(i)] AS cluster,
                    @namespaces[OFFSET(i)] AS namespace,
                    @deployments[OFFSET(i)] AS deployment,
                    @breach_types[OFFSET(i)] AS breach_type,
                    CAST(@started_ons[OFFSET(i)] AS DATE) AS episode_started_on,
                    @teams[OFFSET(i)] AS team
                FROM UNNEST(@episode_keys) AS k WITH OFFSET AS i
            ) AS s
            ON t.route = @route AND t.episode_key = s.episode_key
            WHEN NOT MATCHED THEN INSERT ({_COLUMN_LIST}) VALUES (
                @snapshot_date, s.cluster, s.namespace, s.deployment, s.breach_type, s.episode_started_on,
                @route, 'failed', NULL, @message_hash, s.episode_key, s.team, @run_id, @token,
                CURRENT_TIMESTAMP()
            )
            """,
            {
                "clusters": arrays["cluster"],
                "namespaces": arrays["namespace"],
                "deployments": arrays["deployment"],
                "breach_types": arrays["breach_type"],
                "started_ons": arrays["episode_started_on"],
                "teams": arrays["team"],
                "episode_keys": arrays["episode_key"],
                "route": route,
                "snapshot_date": snapshot_date,
                "message_hash": message_hash or "",
                "run_id": run_id,
                "token": token,
            },
        )
        return self._read_back(route, episodes, token)

    def _read_back(self, route: str, episodes: list[Episode], token: str) -> Claim:
        """Ours = episodes whose only row is ours; a tie with another claimer is given up."""
        by_key: dict = {}
        for rec in self._select(
            "route = @route AND episode_key IN UNNEST(@keys)",
            {"route": route, "keys": [ep.episode_key for ep in episodes]},
        ):
            by_key.setdefault(rec.key, []).append(rec)
        won, held, tied = set(), {}, []
        for ep in episodes:
            recs = by_key.get(ep.key, [])
            mine = [rec for rec in recs if rec.claim_token == token]
            others = [rec for rec in recs if rec.claim_token != token]
            if mine and not others:
                won.add(ep.key)
                continue
            if mine:
                tied.append(ep.episode_key)
            if others:
                held[ep.key] = others[0]
        if tied:
            self._run(
                f"DELETE FROM `{self.table}` WHERE claim_token = @token AND episode_key IN UNNEST(@keys)",
                {"token": token, "keys": tied},
            )
        return Claim(token, won, held)

    def find(self, route: str, episodes: Iterable[Episode]) -> dict:
        keys = [ep.episode_key for ep in episodes]
        if not keys:
            return {}
        found = self._select("route = @route AND episode_key IN UNNEST(@keys)", {"route": route, "keys": keys})
        return {rec.key: rec for rec in found}

    def confirm(self, token: str, *, status: str, message_hash: str, sent_at: datetime | None = None) -> None:
        _check_confirm_status(status)
        self._run(
            f"UPDATE `{self.table}` SET status = @status, sent_at = @sent_at, message_hash = @message_hash "
            "WHERE claim_token = @token",
            {"status": status, "sent_at": sent_at or utcnow(), "message_hash": message_hash, "token": token},
        )

    def release(self, token: str) -> None:
        self._run(f"DELETE FROM `{self.table}` WHERE claim_token = @token", {"token": token})

    def records(self, route: str | None = None) -> list[AlertLogRecord]:
        if route is None:
            return self._select("TRUE", {})
        return self._select("route = @route", {"route": route})


def _naive(value: Any) -> Any:
    """BigQuery returns aware UTC datetimes; the records hold naive UTC like DuckDB's."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


# --------------------------------------------------------------------------- factory


def is_bigquery_target(settings: Any) -> bool:
    """Whether the dbt target is BigQuery (`bigquery`, or the tests' `bigquery_emulator`)."""
    return str(settings.dbt_target).startswith("bigquery")


def alert_log_for(settings: Any, *, bigquery_client: Any = None) -> AlertLog:
    """The ledger of the dbt target: DuckDB file of the settings, or the BigQuery dataset."""
    if is_bigquery_target(settings):
        return BigQueryAlertLog(bigquery_client or bigquery_client_for(settings), settings.dataset)
    return DuckDBAlertLog(settings.duckdb_path)


def bigquery_client_for(settings: Any) -> Any:
    """A BigQuery client for the project and location dbt's profile uses (the settings'; the
    BigQuery emulator's, without Google credentials, when its endpoint is set)."""
    from replica_ledger.gcp.bigquery import client

    return client(settings, "the BigQuery alert_log")


__all__ = [
    "CONFIRMED_STATUSES",
    "TABLE",
    "AlertLog",
    "AlertLogRecord",
    "BigQueryAlertLog",
    "Claim",
    "DuckDBAlertLog",
    "alert_log_for",
    "bigquery_client_for",
    "episode_key",
    "is_bigquery_target",
]

"""The BigQuery warehouse (the production path): the raw load, queries, alert_log, the audit sink.

Each raw table is partitioned by day on `snapshot_date`. A day is loaded with one load job
per table into the partition decorator `table$YYYYMMDD` with WRITE_TRUNCATE: the job
replaces that one partition atomically (an empty file empties it), so a re-run replaces
the day and never appends a second copy, and a row of another day makes the job fail
instead of touching another partition. The rows come from `raw.day.write_day_rows`,
streamed into local NDJSON temp files (`raw.ndjson`), which `load_table_from_file` uploads.

The PED change log is not loaded here: on GCP it is a BigQuery table that dbt reads as a
source. The clients are built in `warehouse.google` (the Airflow connection's credentials).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from replica_ledger import settings as names
from replica_ledger.alerts.ledger import (
    COLUMN_LIST,
    COLUMNS,
    TABLE,
    AlertLogRecord,
    Claim,
    check_confirm_status,
    naive_utc,
    new_claim,
    utcnow,
)
from replica_ledger.alerts.model import Episode
from replica_ledger.alerts.raise_log import (
    RAISE_COLUMN_LIST,
    RAISE_COLUMNS,
    RAISE_TABLE,
    RaiseClaim,
    RaiseLogRecord,
    claim_rows,
)
from replica_ledger.raw.ndjson import NdjsonDayFiles
from replica_ledger.raw.record import LoadHistory, PedArrival, Recorded
from replica_ledger.raw.schema import DAY_TABLES, RAW_TABLES
from replica_ledger.settings import DEFAULT_BQ_LOCATION, AuditTable, Settings
from replica_ledger.warehouse.base import MissingTable
from replica_ledger.warehouse.google import bigquery_client

NAME = "bigquery"

# raw.schema.RAW_TABLES types -> BigQuery load schema types.
BQ_TYPES = {"DATE": "DATE", "VARCHAR": "STRING", "TIMESTAMP": "TIMESTAMP", "BIGINT": "INTEGER", "BOOLEAN": "BOOLEAN"}
RAW_CLUSTERING = {
    "k8s_deployments": ["cluster", "namespace", "deployment"],
    "k8s_hpas": ["cluster", "namespace"],
    "k8s_rejects": ["cluster"],
    "snapshot_manifest": ["cluster"],
    "k8s_audit_events": ["cluster", "namespace", "deployment"],
    "k8s_audit_rejects": ["cluster"],
    # day_loads (the load record): one row per day, nothing to cluster.
}
LOAD_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class RawDataset:
    """Where the raw tables live: `project.dataset`, in `location`."""

    project: str
    dataset: str
    location: str = DEFAULT_BQ_LOCATION

    @classmethod
    def of(cls, settings: Settings) -> RawDataset:
        """The raw dataset the settings name (REPLICA_LEDGER_GCP_PROJECT is required)."""
        project = settings.require_gcp_project("a BigQuery load")
        return cls(project=project, dataset=settings.raw_dataset, location=settings.bq_location)

    def partition(self, table: str, day: date) -> str:
        """The load destination of one day: `project.dataset.table$YYYYMMDD`."""
        if table not in DAY_TABLES:
            raise ValueError(f"{table} is not a day-partitioned raw table")
        return f"{self.project}.{self.dataset}.{table}${day:%Y%m%d}"


def client(settings: Settings, purpose: str = "BigQuery"):
    """A google-cloud-bigquery Client for the settings' project and location; the emulator's
    (anonymous) when REPLICA_LEDGER_BQ_API_ENDPOINT is set (warehouse.google)."""
    return bigquery_client(settings, settings.require_gcp_project(purpose), settings.bq_location)


def schema_fields(table: str) -> list[dict[str, str]]:
    return [
        {"name": name, "type": BQ_TYPES[sql_type], "mode": "NULLABLE"} for name, sql_type in RAW_TABLES[table].items()
    ]


def load_job_config(table: str):
    """The LoadJobConfig of one day of `table`: NDJSON, WRITE_TRUNCATE of the day partition."""
    from google.cloud import bigquery

    if table not in DAY_TABLES:
        raise ValueError(f"{table} is not a day-partitioned raw table")
    return bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
        schema=[bigquery.SchemaField.from_api_repr(field) for field in schema_fields(table)],
        time_partitioning=bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field="snapshot_date"),
        clustering_fields=RAW_CLUSTERING.get(table),
        schema_update_options=[bigquery.SchemaUpdateOption.ALLOW_FIELD_ADDITION],
        ignore_unknown_values=False,
        max_bad_records=0,
    )


def load_day_files(bq_client, raw: RawDataset, day: date, files: Mapping[str, Path]) -> dict[str, str]:
    """One load job per raw table from its NDJSON file into the day's partition; job id per table."""
    jobs = {}
    for table in DAY_TABLES:
        with Path(files[table]).open("rb") as source:
            job = bq_client.load_table_from_file(
                source,
                raw.partition(table, day),
                job_config=load_job_config(table),
                location=raw.location,
                rewind=True,
            )
            job.result(timeout=LOAD_TIMEOUT_S)
        jobs[table] = job.job_id
    return jobs


@contextmanager
def replacing_day(raw: RawDataset, day: date, bq_client) -> Iterator:
    """A `raw.day.DaySink` (NDJSON temp files) whose rows replace `day` in BigQuery when the block ends.

    Nothing reaches BigQuery if the block fails: the load jobs only start once every row
    of the day is in its file.
    """
    with NdjsonDayFiles() as files:
        yield files
        load_day_files(
            bq_client,
            raw,
            day,
            {table: files.path(table) for table in DAY_TABLES},
        )


def load_history(raw: RawDataset, first: date, last: date, day: date, bq_client) -> LoadHistory:
    """The load records (raw.record) of the days first..last, the first day ever loaded and
    the PED rows the last load of another day than `day` knew of: one query; nothing before
    the first load (no table yet). A table written before the record kept its inputs' versions
    lacks those columns until the next load adds them (ALLOW_FIELD_ADDITION): read as null."""
    from google.api_core.exceptions import BadRequest, NotFound

    try:
        rows = _history_rows(raw, first, last, day, bq_client, newer_columns=True)
    except NotFound:
        return LoadHistory(records={})
    except BadRequest as error:
        if "Unrecognized name" not in str(error):
            raise
        rows = _history_rows(raw, first, last, day, bq_client, newer_columns=False)
    records = {row["snapshot_date"]: Recorded.of_row(row) for row in rows if row["kind"] == "record"}
    (history,) = [row for row in rows if row["kind"] == "history"] or [{"snapshot_date": None, "ped_seen": None}]
    return LoadHistory(records=records, first_loaded=history["snapshot_date"], ped_seen=history["ped_seen"])


def _history_rows(raw: RawDataset, first: date, last: date, day: date, bq_client, *, newer_columns: bool) -> list:
    from google.cloud import bigquery

    table = f"`{raw.project}.{raw.dataset}.day_loads`"
    null_text, null_int = "CAST(NULL AS STRING)", "CAST(NULL AS INT64)"
    versions, ped_seen, window = (
        ("input_versions", "ped_seen", "run_window") if newer_columns else (null_text, null_int, null_text)
    )
    seen_elsewhere = f"max(IF(snapshot_date <> @day, {ped_seen}, NULL))"
    sql = (
        f"SELECT 'record' AS kind, snapshot_date, fingerprint, {versions} AS input_versions, "
        f"{ped_seen} AS ped_seen, {window} AS run_window "
        f"FROM {table} WHERE snapshot_date BETWEEN @first AND @last "
        f"UNION ALL SELECT 'history', min(snapshot_date), {null_text}, {null_text}, {seen_elsewhere}, {null_text} "
        f"FROM {table} WHERE snapshot_date >= DATE '1970-01-01'"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("first", "DATE", first),
            bigquery.ScalarQueryParameter("last", "DATE", last),
            bigquery.ScalarQueryParameter("day", "DATE", day),
        ]
    )
    return [dict(row.items()) for row in bq_client.query(sql, job_config=config, location=raw.location).result()]


def load_record(raw: RawDataset, day: date, bq_client) -> Recorded | None:
    """`day`'s load record, None when the day was never loaded."""
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery

    sql = f"SELECT * FROM `{raw.project}.{raw.dataset}.day_loads` WHERE snapshot_date = @day"
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("day", "DATE", day)])
    try:
        rows = [dict(row.items()) for row in bq_client.query(sql, job_config=config, location=raw.location).result()]
    except NotFound:
        return None
    return Recorded.of_row(rows[0]) if rows else None


def ped_table(settings: Settings) -> str:
    """The PED change log table dbt reads (the source of staging/ped): project.dataset.table."""
    project = settings.ped_project or settings.require_gcp_project("the PED change log")
    return f"{project}.{settings.ped_dataset or settings.raw_dataset}.{settings.ped_table_name}"


def ped_arrivals(table: str, since: int | None, bq_client, location: str) -> tuple[list[PedArrival], int | None]:
    """The PED table's rows after arrival_seq `since` (none when nothing was seen before),
    and its highest arrival_seq: one query."""
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery

    sql = (
        "SELECT arrival_seq, change_id, DATE(changed_at) AS changed_on, "
        f"max(arrival_seq) OVER () AS seen FROM `{table}` "
        "WHERE arrival_seq > @since OR arrival_seq = (SELECT max(arrival_seq) FROM `" + table + "`)"
    )
    since_value = -1 if since is None else since
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("since", "INT64", since_value)])
    try:
        rows = [dict(row.items()) for row in bq_client.query(sql, job_config=config, location=location).result()]
    except NotFound:
        return [], None
    seen = max((row["arrival_seq"] for row in rows if row["arrival_seq"] is not None), default=None)
    if since is None:
        return [], seen
    arrivals = [
        PedArrival(row["arrival_seq"], row["change_id"], row["changed_on"])
        for row in rows
        if row["arrival_seq"] is not None and row["arrival_seq"] > since
    ]
    return arrivals, seen


# --------------------------------------------------------------------------- queries


def _parameter(value):
    from google.cloud import bigquery

    kind = (
        "TIMESTAMP"
        if isinstance(value, datetime)
        else "DATE"
        if isinstance(value, date)
        else "BOOL"
        if isinstance(value, bool)
        else "INT64"
        if isinstance(value, int)
        else "FLOAT64"
        if isinstance(value, float)
        else "STRING"
    )
    return bigquery.ScalarQueryParameter(None, kind, value)


def _is_missing_table(error: Exception) -> bool:
    from google.api_core.exceptions import BadRequest, NotFound

    if isinstance(error, NotFound):
        return True
    # A column an older build of the model does not have.
    return isinstance(error, BadRequest) and "Unrecognized name" in str(error)


def query_rows(bq_client, dataset: str, sql: str, params: Sequence[Any] | None = None) -> list[dict]:
    """Run `sql` with positional `?` parameters, `dataset` (of the client's project) as default dataset."""
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(
        default_dataset=f"{bq_client.project}.{dataset}",
        query_parameters=[_parameter(value) for value in params or []],
    )
    try:
        return [dict(row.items()) for row in bq_client.query(sql, job_config=config).result()]
    except Exception as error:
        if _is_missing_table(error):
            raise MissingTable(str(error)) from error
        raise


# --------------------------------------------------------------------------- the Warehouse


class _BigQueryLoad:
    """A `base.RawLoad`: one WRITE_TRUNCATE load job per table and day partition."""

    def __init__(self, raw: RawDataset, bq_client, ped: str | None = None) -> None:
        self._raw, self._client, self._ped = raw, bq_client, ped
        self.summary = {"destination": f"{raw.project}.{raw.dataset}"}

    def load_history(self, first: date, last: date, day: date) -> LoadHistory:
        return load_history(self._raw, first, last, day, self._client)

    def ped_arrivals(self, since: int | None) -> tuple[list[PedArrival], int | None]:
        if self._ped is None:
            return [], None
        return ped_arrivals(self._ped, since, self._client, self._raw.location)

    def replacing_day(self, day: date):
        return replacing_day(self._raw, day, self._client)


class BigQueryWarehouse:
    """`base.Warehouse` on the settings' BigQuery project (or the emulator): the dbt models
    in REPLICA_LEDGER_BQ_DATASET, the raw tables in REPLICA_LEDGER_RAW_SCHEMA.

    The client is built on first use (`client=` injects one, e.g. an emulator's)."""

    name = NAME

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = client(self.settings, "a BigQuery query")
        return self._client

    def writable_problem(self) -> str | None:
        return None

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict]:
        return query_rows(self.client, self.settings.dataset, sql, params)

    @contextmanager
    def loading(self) -> Iterator[_BigQueryLoad]:
        raw = RawDataset.of(self.settings)
        yield _BigQueryLoad(raw, client(self.settings), ped_table(self.settings))

    def alert_log(self) -> BigQueryAlertLog:
        return BigQueryAlertLog(self._client or client(self.settings, "the BigQuery alert_log"), self.settings.dataset)

    def raise_log(self) -> BigQueryRaiseLog:
        bq_client = self._client or client(self.settings, "the BigQuery limit_raise_log")
        return BigQueryRaiseLog(bq_client, self.settings.dataset)

    def load_record(self, day: date) -> Recorded | None:
        return load_record(RawDataset.of(self.settings), day, self.client)

    def statement_log(self) -> BigQueryStatementLog:
        return BigQueryStatementLog(
            self._client or client(self.settings, "the BigQuery statement_log"), self.settings.dataset
        )

    def dbt_environment(self) -> dict[str, str]:
        settings = self.settings
        env = {
            names.RAW_SCHEMA_VAR: settings.raw_dataset,
            names.BQ_DATASET_VAR: settings.dataset,
            names.BQ_LOCATION_VAR: settings.bq_location,
            names.PED_PROJECT_VAR: settings.ped_project,
            names.PED_DATASET_VAR: settings.ped_dataset,
            names.PED_TABLE_NAME_VAR: settings.ped_table_name,
        }
        if settings.gcp_project:
            env[names.GCP_PROJECT_VAR] = settings.gcp_project
        if settings.bq_api_endpoint:
            env[names.BQ_API_ENDPOINT_VAR] = settings.bq_api_endpoint
        return env


def audit_sink_source(settings: Settings, table: AuditTable):
    """The log sink's table as the run's audit source; its query jobs run in
    REPLICA_LEDGER_GCP_PROJECT, or in the table's project when that is unset."""
    from replica_ledger.audit.bigquery_sink import SinkTable

    job_settings = replace(settings, gcp_project=settings.gcp_project or table.project)
    return SinkTable(table, client(job_settings, "reading the audit log sink table"))


# --------------------------------------------------------------------------- alert_log

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

_BQ_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:-]+$")
_ARRAY_COLUMNS = ("cluster", "namespace", "deployment", "breach_type", "episode_started_on", "episode_key", "team")


def _bq_param(name: str, value: Any):
    from google.cloud import bigquery

    if isinstance(value, list):
        return bigquery.ArrayQueryParameter(name, "STRING", value)
    kind = "TIMESTAMP" if isinstance(value, datetime) else "DATE" if isinstance(value, date) else "STRING"
    return bigquery.ScalarQueryParameter(name, kind, value)


class _BigQueryLedger:
    """One announcement ledger table in BigQuery (``<project>.<dataset>.<_TABLE_NAME>``, made
    from ``_DDL`` if missing): what alert_log, limit_raise_log and statement_log share.

    Needs only a ``google.cloud.bigquery.Client`` (injectable: production builds one from
    the environment, tests give one pointed at an emulator). Every statement is one query
    job with named parameters; see the module docstring for why the claim is safe.
    """

    _TABLE_NAME = ""
    _DDL = ""

    def __init__(self, client: Any, dataset: str, project: str | None = None) -> None:
        table = f"{project or client.project}.{dataset}.{self._TABLE_NAME}"
        if not _BQ_IDENTIFIER.match(table):
            raise ValueError(f"not a BigQuery table id: {table!r}")
        self._client = client
        self.table = table
        self._run(self._DDL.format(table=table), {})

    def _run(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=[_bq_param(k, v) for k, v in params.items()])
        job = self._client.query(sql, job_config=config)
        return [dict(row.items()) for row in job.result()]

    def release(self, token: str) -> None:
        """Give up a claim: its rows go."""
        self._run(f"DELETE FROM `{self.table}` WHERE claim_token = @token", {"token": token})


class _MessageLedger(_BigQueryLedger):
    """A ledger whose confirmation records the message sent (alert_log, limit_raise_log)."""

    def confirm(self, token: str, *, status: str, message_hash: str, sent_at: datetime | None = None) -> None:
        check_confirm_status(status)
        self._run(
            f"UPDATE `{self.table}` SET status = @status, sent_at = @sent_at, message_hash = @message_hash "
            "WHERE claim_token = @token",
            {"status": status, "sent_at": sent_at or utcnow(), "message_hash": message_hash, "token": token},
        )


class BigQueryAlertLog(_MessageLedger):
    """:class:`AlertLog` in BigQuery (``<project>.<dataset>.alert_log``, created if missing)."""

    _TABLE_NAME = TABLE
    _DDL = BIGQUERY_DDL

    def _select(self, where: str, params: dict[str, Any]) -> list[AlertLogRecord]:
        rows = self._run(
            f"SELECT {COLUMN_LIST} FROM `{self.table}` WHERE {where} ORDER BY route, episode_key, claimed_at",
            params,
        )
        return [AlertLogRecord(**{name: naive_utc(row[name]) for name in COLUMNS}) for row in rows]

    def claim(self, *, route, run_id, snapshot_date, episodes, message_hash) -> Claim:
        token, rows = new_claim(route, run_id, snapshot_date, episodes, message_hash)
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
            WHEN NOT MATCHED THEN INSERT ({COLUMN_LIST}) VALUES (
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

    def records(self, route: str | None = None) -> list[AlertLogRecord]:
        if route is None:
            return self._select("TRUE", {})
        return self._select("route = @route", {"route": route})


# --------------------------------------------------------------------------- limit_raise_log

RAISE_DDL = """
CREATE TABLE IF NOT EXISTS `{table}` (
    change_id     STRING NOT NULL,
    namespace     STRING NOT NULL,
    deployment    STRING NOT NULL,
    route         STRING NOT NULL,
    status        STRING NOT NULL,
    sent_at       TIMESTAMP,
    message_hash  STRING,
    snapshot_date DATE NOT NULL,
    run_id        STRING NOT NULL,
    claim_token   STRING NOT NULL,
    claimed_at    TIMESTAMP NOT NULL
)
CLUSTER BY route, change_id
OPTIONS (description = 'One row per PED raise of a limit announced per Slack route; written by the alert task only')
"""


class BigQueryRaiseLog(_MessageLedger):
    """:class:`alerts.raise_log.RaiseLog` in BigQuery (``<project>.<dataset>.limit_raise_log``,
    created if missing). The claim is alert_log's (``BigQueryAlertLog``; ``alerts/ledger.py``
    says why): a MERGE that only inserts, then a read-back that wins a change id only when
    its own row is the only one, and deletes its own row on a tie."""

    _TABLE_NAME = RAISE_TABLE
    _DDL = RAISE_DDL

    def _select(self, where: str, params: dict[str, Any]) -> list[RaiseLogRecord]:
        rows = self._run(
            f"SELECT {RAISE_COLUMN_LIST} FROM `{self.table}` WHERE {where} ORDER BY route, change_id, claimed_at",
            params,
        )
        return [RaiseLogRecord(**{name: naive_utc(row[name]) for name in RAISE_COLUMNS}) for row in rows]

    def claim(self, *, route, run_id, snapshot_date, raises, message_hash) -> RaiseClaim:
        token, rows = claim_rows(route, run_id, snapshot_date, raises, message_hash)
        if not rows:
            return RaiseClaim(token)
        self._run(
            f"""
            MERGE `{self.table}` AS t
            USING (
                SELECT
                    c AS change_id,
                    @namespaces[OFFSET(i)] AS namespace,
                    @deployments[OFFSET(i)] AS deployment
                FROM UNNEST(@change_ids) AS c WITH OFFSET AS i
            ) AS s
            ON t.route = @route AND t.change_id = s.change_id
            WHEN NOT MATCHED THEN INSERT ({RAISE_COLUMN_LIST}) VALUES (
                s.change_id, s.namespace, s.deployment, @route, 'failed', NULL, @message_hash,
                @snapshot_date, @run_id, @token, CURRENT_TIMESTAMP()
            )
            """,
            {
                "change_ids": [row["change_id"] for row in rows],
                "namespaces": [row["namespace"] for row in rows],
                "deployments": [row["deployment"] for row in rows],
                "route": route,
                "message_hash": message_hash,
                "snapshot_date": snapshot_date,
                "run_id": run_id,
                "token": token,
            },
        )
        by_id: dict[str, list[RaiseLogRecord]] = {}
        for rec in self._select(
            "route = @route AND change_id IN UNNEST(@ids)", {"route": route, "ids": [r["change_id"] for r in rows]}
        ):
            by_id.setdefault(rec.change_id, []).append(rec)
        won, held, tied = set(), {}, []
        for row in rows:
            recs = by_id.get(row["change_id"], [])
            mine = [rec for rec in recs if rec.claim_token == token]
            others = [rec for rec in recs if rec.claim_token != token]
            if mine and not others:
                won.add(row["change_id"])
                continue
            if mine:
                tied.append(row["change_id"])
            if others:
                held[row["change_id"]] = others[0]
        if tied:
            self._run(
                f"DELETE FROM `{self.table}` WHERE claim_token = @token AND change_id IN UNNEST(@ids)",
                {"token": token, "ids": tied},
            )
        return RaiseClaim(token, won, held)

    def find(self, route: str, change_ids) -> dict[str, RaiseLogRecord]:
        ids = list(change_ids)
        if not ids:
            return {}
        found = self._select("route = @route AND change_id IN UNNEST(@ids)", {"route": route, "ids": ids})
        return {rec.change_id: rec for rec in found}

    def records(self) -> list[RaiseLogRecord]:
        return self._select("TRUE", {})


# --------------------------------------------------------------------------- statement_log

STATEMENT_LOG_DDL = """
CREATE TABLE IF NOT EXISTS `{table}` (
    billing_month DATE NOT NULL,
    team          STRING NOT NULL,
    team_version  INT64 NOT NULL,
    route         STRING NOT NULL,
    status        STRING NOT NULL,
    sent_at       TIMESTAMP,
    message_hash  STRING,
    run_id        STRING NOT NULL,
    claim_token   STRING NOT NULL,
    claimed_at    TIMESTAMP NOT NULL
)
CLUSTER BY route, team
OPTIONS (description = 'One row per team statement version announced per Slack route; written by the close only')
"""


class BigQueryStatementLog(_BigQueryLedger):
    """`statements.ledger.StatementLog` in BigQuery (``<dataset>.statement_log``). The claim is
    alert_log's: a MERGE that only inserts, then a read-back that wins only when our row is
    the only one (a tie is given up, and deleted by the loser: see BigQueryAlertLog)."""

    _TABLE_NAME = "statement_log"
    _DDL = STATEMENT_LOG_DDL

    def claim(self, *, route, month, team, version, run_id, message_hash, status) -> str | None:
        from replica_ledger.statements import ledger

        ledger.check_status(status, ("failed", "withheld"))
        token = ledger.new_token()
        key = "route = @route AND billing_month = @month AND team = @team AND team_version = @version"
        params = {"route": route, "month": month, "team": team, "version": str(version)}
        self._run(
            f"""
            MERGE `{self.table}` AS t
            USING (SELECT 1) AS s
            ON t.route = @route AND t.billing_month = @month AND t.team = @team
                AND t.team_version = CAST(@version AS INT64)
            WHEN NOT MATCHED THEN INSERT (billing_month, team, team_version, route, status, sent_at, message_hash,
                run_id, claim_token, claimed_at)
            VALUES (@month, @team, CAST(@version AS INT64), @route, @status, NULL, @message_hash, @run_id, @token,
                CURRENT_TIMESTAMP())
            """,
            {**params, "status": status, "message_hash": message_hash, "run_id": run_id, "token": token},
        )
        rows = self._run(
            f"SELECT claim_token FROM `{self.table}` WHERE {key.replace('@version', 'CAST(@version AS INT64)')}",
            params,
        )
        tokens = [row["claim_token"] for row in rows]
        if tokens == [token]:
            return token
        if token in tokens:
            self.release(token)
        return None

    def confirm(self, token: str, *, status: str) -> None:
        from replica_ledger.statements import ledger

        ledger.check_status(status, ledger.CONFIRMED_STATUSES)
        self._run(
            f"UPDATE `{self.table}` SET status = @status, sent_at = @sent_at WHERE claim_token = @token",
            {"status": status, "sent_at": ledger.utcnow(), "token": token},
        )

    def records(self) -> list:
        from replica_ledger.statements import ledger

        rows = self._run(
            f"SELECT {ledger.COLUMN_LIST} FROM `{self.table}` ORDER BY billing_month, team, team_version, route", {}
        )
        return [ledger.StatementLogRecord(**{name: naive_utc(row[name]) for name in ledger.COLUMNS}) for row in rows]

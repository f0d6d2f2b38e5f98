"""BigQuery side of the raw load, and small read queries.

Each raw table is partitioned by day on `snapshot_date`. A day is loaded with one load job
per table into the partition decorator `table$YYYYMMDD` with WRITE_TRUNCATE: the job
replaces that one partition atomically (an empty file empties it), so a re-run replaces
the day and never appends a second copy, and a row of another day makes the job fail
instead of touching another partition. The rows come from `raw.day.write_day_rows`,
streamed into local NDJSON temp files (`raw.ndjson`), which `load_table_from_file` uploads.

The PED change log is not loaded here: on GCP it is a BigQuery table that dbt reads as a
source.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from replica_ledger.settings import DEFAULT_BQ_LOCATION, Settings
from replica_ledger.warehouse import DAY_TABLES, RAW_TABLES

# warehouse.RAW_TABLES types -> BigQuery load schema types.
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
    (anonymous) when REPLICA_LEDGER_BQ_API_ENDPOINT is set."""
    from google.cloud import bigquery  # heavy: imported at run time only

    project, location = settings.require_gcp_project(purpose), settings.bq_location
    endpoint = settings.bq_api_endpoint
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project,
            location=location,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
        )
    return bigquery.Client(project=project, location=location)


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
    from replica_ledger.raw.ndjson import NdjsonDayFiles

    with NdjsonDayFiles() as files:
        yield files
        load_day_files(
            bq_client,
            raw,
            day,
            {table: files.path(table) for table in DAY_TABLES},
        )


def load_records(raw: RawDataset, first: date, last: date, bq_client) -> tuple[dict[date, str], date | None]:
    """day -> fingerprint of its last load (raw.record) for the days first..last, and the
    first day ever loaded: one query; nothing before the first load (no table yet)."""
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery

    table = f"`{raw.project}.{raw.dataset}.day_loads`"
    sql = (
        f"SELECT snapshot_date, fingerprint FROM {table} WHERE snapshot_date BETWEEN @first AND @last "
        f"UNION ALL SELECT min(snapshot_date), CAST(NULL AS STRING) FROM {table}"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("first", "DATE", first),
            bigquery.ScalarQueryParameter("last", "DATE", last),
        ]
    )
    try:
        rows = list(bq_client.query(sql, job_config=config, location=raw.location).result())
    except NotFound:
        return {}, None
    records = {row["snapshot_date"]: row["fingerprint"] for row in rows if row["fingerprint"] is not None}
    first_loaded = min((row["snapshot_date"] for row in rows if row["fingerprint"] is None), default=None)
    return records, first_loaded


# --------------------------------------------------------------------------- queries


def _parameter(value):
    from datetime import date, datetime

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


def query_rows(settings: Settings, sql: str, params: list | None = None) -> list[dict]:
    """Run `sql` with positional `?` parameters against the dbt dataset (default dataset)."""
    from google.cloud import bigquery

    bq = client(settings, "a BigQuery query")
    config = bigquery.QueryJobConfig(
        default_dataset=f"{bq.project}.{settings.dataset}",
        query_parameters=[_parameter(value) for value in params or []],
    )
    return [dict(row.items()) for row in bq.query(sql, job_config=config).result()]

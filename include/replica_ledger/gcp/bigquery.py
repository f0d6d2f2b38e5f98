"""BigQuery side of the production path: raw-table load jobs and small read queries.

Each raw table is partitioned by day on `snapshot_date`. A day is loaded with a load job
into the partition decorator `table$YYYYMMDD` with WRITE_TRUNCATE: the job replaces that
one partition atomically (an empty source empties it), so a re-run replaces the day and
never appends a second copy, and a row of another day makes the job fail instead of
touching another partition.
"""

from __future__ import annotations

from typing import Any

from replica_ledger.warehouse import DAY_TABLES, RAW_TABLES

# warehouse.RAW_TABLES types -> BigQuery load schema types.
BQ_TYPES = {"DATE": "DATE", "VARCHAR": "STRING", "TIMESTAMP": "TIMESTAMP", "BIGINT": "INTEGER"}
RAW_CLUSTERING = {
    "k8s_deployments": ["cluster", "namespace", "deployment"],
    "k8s_hpas": ["cluster", "namespace"],
    "k8s_rejects": ["cluster"],
    "snapshot_manifest": ["cluster"],
}
DS_NODASH = "{{ ds_nodash }}"
DS = "{{ ds }}"


def schema_fields(table: str) -> list[dict[str, str]]:
    return [
        {"name": name, "type": BQ_TYPES[sql_type], "mode": "NULLABLE"} for name, sql_type in RAW_TABLES[table].items()
    ]


def load_job_configuration(gcp, table: str, day_iso: str = DS, day_nodash: str = DS_NODASH) -> dict[str, Any]:
    """BigQueryInsertJobOperator `configuration` loading one day of `table` (templated by default)."""
    if table not in DAY_TABLES:
        raise ValueError(f"{table} is not a day-partitioned raw table")
    return {
        "load": {
            "sourceUris": [f"gs://{gcp.bucket}/{gcp.raw_object(table, day_iso)}"],
            "sourceFormat": "NEWLINE_DELIMITED_JSON",
            "destinationTable": {
                "projectId": gcp.project,
                "datasetId": gcp.raw_dataset,
                "tableId": f"{table}${day_nodash}",
            },
            "schema": {"fields": schema_fields(table)},
            "timePartitioning": {"type": "DAY", "field": "snapshot_date"},
            "clustering": {"fields": RAW_CLUSTERING[table]},
            "writeDisposition": "WRITE_TRUNCATE",
            "createDisposition": "CREATE_IF_NEEDED",
            "schemaUpdateOptions": ["ALLOW_FIELD_ADDITION"],
            "ignoreUnknownValues": False,
            "maxBadRecords": 0,
        }
    }


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


def query_rows(sql: str, params: list | None = None, environ: dict[str, str] | None = None) -> list[dict]:
    """Run `sql` with positional `?` parameters against the dbt dataset (default dataset)."""
    import os

    from google.cloud import bigquery

    env = os.environ if environ is None else environ
    project = env["REPLICA_LEDGER_GCP_PROJECT"]
    dataset = env.get("REPLICA_LEDGER_BQ_DATASET", "replica_ledger")
    client = bigquery.Client(project=project, location=env.get("REPLICA_LEDGER_BQ_LOCATION", "EU"))
    config = bigquery.QueryJobConfig(
        default_dataset=f"{project}.{dataset}",
        query_parameters=[_parameter(value) for value in params or []],
    )
    return [dict(row.items()) for row in client.query(sql, job_config=config).result()]

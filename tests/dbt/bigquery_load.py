"""Raw data into the BigQuery emulator the way production puts it into BigQuery.

Snapshot days: one load job per raw table into the partition decorator `table$YYYYMMDD`
with WRITE_TRUNCATE (replica_ledger.gcp.bigquery), from the NDJSON that the Composer
worker stages (replica_ledger.gcp.raw_rows.to_ndjson). `load_raw_day` is the one place
to switch when the production loader changes.

PED change log: the PED pipeline's typed table (replica_ledger.ped.bigquery.ddl_sql), one
row per change; a line that is not a JSON object cannot be in that table and is left out.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

from replica_ledger.gcp.raw_rows import to_ndjson

from replica_ledger.gcp.bigquery import schema_fields
from replica_ledger.ped.bigquery import PARAM_TYPES, ddl_sql
from replica_ledger.warehouse import DAY_TABLES

PED_TABLE = "ped_limit_changes"
_PED_JSON_TYPES = {"INT64": int, "FLOAT64": float}


def load_raw_day(client, dataset: str, day: date, rows_by_table: dict[str, list[dict]]) -> None:
    """Replace `day` in every raw table (an empty table of rows empties the day)."""
    from google.cloud import bigquery

    for table in DAY_TABLES:
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            time_partitioning=bigquery.TimePartitioning(field="snapshot_date"),
            schema=[bigquery.SchemaField.from_api_repr(field) for field in schema_fields(table)],
        )
        destination = f"{client.project}.{dataset}.{table}${day:%Y%m%d}"
        data = io.BytesIO(to_ndjson(table, rows_by_table.get(table, [])))
        client.load_table_from_file(data, destination, job_config=config).result()


def ped_rows(path: Path) -> list[dict]:
    """The change log's JSON objects as typed PED-table rows; arrival_seq is the line number."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            change = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(change, dict):
            continue
        row = {name: _typed(change.get(name), kind) for name, kind in PARAM_TYPES.items()}
        rows.append({**row, "arrival_seq": number})
    return rows


def _typed(value, kind: str):
    cast = _PED_JSON_TYPES.get(kind)
    return cast(value) if cast is not None and value is not None else value


def load_ped_change_log(client, dataset: str, path: Path) -> int:
    """(Re)create the PED table in `dataset` and fill it from the JSON Lines file."""
    from google.cloud import bigquery

    table = f"{client.project}.{dataset}.{PED_TABLE}"
    client.query_and_wait(f"DROP TABLE IF EXISTS `{table}`")
    client.query_and_wait(ddl_sql(f"bq://{table}"))
    rows = ped_rows(path)
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
    )
    client.load_table_from_file(io.BytesIO(data), table, job_config=config).result()
    return len(rows)

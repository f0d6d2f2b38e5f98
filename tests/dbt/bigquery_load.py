"""Raw data into the BigQuery emulator the way production puts it into BigQuery.

Snapshot days: the product's load step itself (`pipeline.load_day` on a BigQuery target:
one `table$YYYYMMDD` WRITE_TRUNCATE load job per raw table), pointed at the emulator by
REPLICA_LEDGER_BQ_API_ENDPOINT. `load_raw_day` is the one place to change if that entry
point moves.

PED change log: the PED pipeline's typed table (replica_ledger.ped.bigquery.ddl_sql), one
row per change; a line that is not a JSON object cannot be in that table and is left out.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import date
from pathlib import Path

from replica_ledger import pipeline
from replica_ledger.ped.bigquery import PARAM_TYPES, ddl_sql
from replica_ledger.settings import DEFAULT_RAW_DATASET, Settings
from tooling.emulators.bigquery import DBT_TARGET, BigQueryEmulator

RAW_DATASET = DEFAULT_RAW_DATASET
PED_TABLE = "ped_limit_changes"
_PED_JSON_TYPES = {"INT64": int, "FLOAT64": float}


def load_raw_day(emulator: BigQueryEmulator, settings: Settings, day: date) -> dict:
    """Replace `day` in the emulator's raw tables with the product's load step."""
    on_emulator = dataclasses.replace(
        settings,
        dbt_target=DBT_TARGET,
        gcp_project=emulator.project,
        raw_dataset=RAW_DATASET,
        bq_api_endpoint=emulator.endpoint,
    )
    return pipeline.load_day(on_emulator, day)


def ped_rows(path: Path) -> list[dict]:
    """The change log's JSON objects as typed PED-table rows; arrival_seq is the line number."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            change = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(change, dict):
            row = {name: _typed(change.get(name), kind) for name, kind in PARAM_TYPES.items()}
            rows.append({**row, "arrival_seq": number})
    return rows


def _typed(value, kind: str):
    cast = _PED_JSON_TYPES.get(kind)
    return cast(value) if cast is not None and value is not None else value


def load_ped_change_log(client, path: Path, dataset: str = RAW_DATASET) -> int:
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

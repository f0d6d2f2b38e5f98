"""The PED change log as the PED pipeline's typed BigQuery table, for the emulator (tests, demo-gcp).

One row per change line (replica_ledger.ped.bigquery.ddl_sql); `arrival_seq` is the line
number. A line that is not a JSON object cannot be a row of that typed table, so it is left
out (the local path quarantines it as malformed_json instead).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

PED_TABLE = "ped_limit_changes"
_PED_JSON_TYPES = {"INT64": int, "FLOAT64": float}


def ped_rows(path: Path) -> list[dict]:
    """The change log's JSON objects as typed rows of the PED table."""
    from replica_ledger.ped.bigquery import PARAM_TYPES

    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            change = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(change, dict):
            typed = {name: _typed(change.get(name), kind) for name, kind in PARAM_TYPES.items()}
            rows.append({**typed, "arrival_seq": number})
    return rows


def _typed(value, kind: str):
    cast = _PED_JSON_TYPES.get(kind)
    return cast(value) if cast is not None and value is not None else value


def load_ped_change_log(client, path: Path, dataset: str) -> tuple[str, int]:
    """(Re)create the PED table in `dataset` and fill it from the JSON Lines file: (table, rows)."""
    from google.cloud import bigquery

    from replica_ledger.ped.bigquery import ddl_sql

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
    return table, len(rows)

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
from datetime import date
from pathlib import Path

from replica_ledger import pipeline
from replica_ledger.settings import DEFAULT_RAW_DATASET, Settings
from tooling import ped_table
from tooling.emulators.bigquery import DBT_TARGET, BigQueryEmulator

RAW_DATASET = DEFAULT_RAW_DATASET


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


def load_ped_change_log(client, path: Path, dataset: str = RAW_DATASET) -> int:
    """(Re)create the PED table in `dataset` and fill it from the JSON Lines file."""
    return ped_table.load_ped_change_log(client, path, dataset)[1]

"""A day's raw rows as newline-delimited JSON, one local temp file per table (BigQuery's load input).

A sink for `raw.day.write_day_rows`: rows are appended as they come, so memory stays flat;
`discard_cluster` cuts a table's file back to where the cluster began. Every table gets a
file, empty when the day has none of its rows, so a WRITE_TRUNCATE load of the day's
partition always replaces the whole day.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from replica_ledger.raw.schema import DAY_TABLES, RAW_TABLES


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):  # naive UTC (warehouse convention); BigQuery reads it as UTC
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def ndjson_line(table: str, row: dict) -> str:
    """One JSON object with exactly the table's columns (RAW_TABLES order)."""
    return json.dumps({name: json_value(row.get(name)) for name in RAW_TABLES[table]}, separators=(",", ":")) + "\n"


class NdjsonDayFiles:
    """Temp files `<table>.jsonl` in a private folder, removed on close."""

    def __init__(self, directory: Path | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="replica-ledger-raw-", dir=directory)
        self.folder = Path(self._tmp.name)
        self._files = {table: (self.folder / f"{table}.jsonl").open("w+", encoding="utf-8") for table in DAY_TABLES}
        self._cluster_starts: dict[str, int] = {}

    def path(self, table: str) -> Path:
        self._files[table].flush()
        return self.folder / f"{table}.jsonl"

    def begin_cluster(self, cluster: str) -> None:
        self._cluster_starts = {table: file.tell() for table, file in self._files.items()}

    def write(self, table: str, rows: list[dict]) -> None:
        self._files[table].writelines(ndjson_line(table, row) for row in rows)

    def discard_cluster(self, cluster: str) -> None:
        for table, file in self._files.items():
            file.seek(self._cluster_starts.get(table, 0))
            file.truncate()

    def close(self) -> None:
        for file in self._files.values():
            file.close()
        self._tmp.cleanup()

    def __enter__(self) -> NdjsonDayFiles:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

"""A day's raw rows in memory: a `raw.day.DaySink` for tests and small tools (never the product's load)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from replica_ledger.raw.day import DayLoad, write_day_rows
from replica_ledger.raw.schema import DAY_TABLES
from replica_ledger.raw.stores import ObjectStore


class MemoryDaySink:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = {table: [] for table in DAY_TABLES}

    def begin_cluster(self, cluster: str) -> None:
        pass

    def write(self, table: str, rows: list[dict]) -> None:
        self.rows[table].extend(rows)

    def discard_cluster(self, cluster: str) -> None:
        for table, rows in self.rows.items():
            self.rows[table] = [row for row in rows if row["cluster"] != cluster]


def day_rows(store: ObjectStore, day: date, clusters: Iterable[str] = ()) -> dict[str, list[dict]]:
    """Every raw row of `day`, per table, as the loader builds them."""
    sink = MemoryDaySink()
    write_day_rows(store, day, clusters, sink)
    return sink.rows


def day_load(store: ObjectStore, day: date, clusters: Iterable[str] = ()) -> tuple[DayLoad, dict[str, list[dict]]]:
    sink = MemoryDaySink()
    return write_day_rows(store, day, clusters, sink), sink.rows

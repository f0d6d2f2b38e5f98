"""What the rest of the product may ask of a warehouse, on DuckDB and on BigQuery alike.

The interface is small on purpose: a query with parameters (`?`, rows as dicts), a load
session (the load record, and a sink that replaces one day of the raw tables), the alert
log and the raise notices' log, the environment dbt's profile reads, and one exception for
"that table is not built yet". Which implementation a run gets is decided once, by `warehouse.open_warehouse`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date
from typing import Any, Protocol, runtime_checkable


class MissingTable(LookupError):
    """The query names a table (or a column of one) the warehouse does not hold yet.

    A model built by a later step (the billing models before the first month close), or a
    warehouse built by an older version of the models. Raised by `Warehouse.query` in place
    of DuckDB's CatalogException/BinderException and BigQuery's NotFound/"Unrecognized
    name", so callers test for one thing.
    """


@runtime_checkable
class RawLoad(Protocol):
    """One load of the raw tables (`Warehouse.loading`)."""

    def load_history(self, first: date, last: date, day: date) -> Any:
        """A `raw.record.LoadHistory`: the load records of the days first..last, the first
        day ever loaded (None before the first load), and the PED rows the last load of
        another day than `day` knew of."""
        ...

    def ped_arrivals(self, since: int | None) -> tuple[list, int | None]:
        """The PED change log's rows after arrival_seq `since` (`raw.record.PedArrival`; none
        when `since` is None), and its highest arrival_seq."""
        ...

    def replacing_day(self, day: date) -> AbstractContextManager[Any]:
        """A `raw.day.DaySink` whose rows replace every raw row of `day` when the block ends
        (nothing changes if the block fails)."""
        ...

    @property
    def summary(self) -> dict:
        """What the load adds to the run's summary, once the `loading` block ended."""
        ...


@runtime_checkable
class Warehouse(Protocol):
    name: str

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict]:
        """Rows of `sql` (SQL both warehouses accept, `?` parameters) on the dbt target's
        dataset; `MissingTable` when a table it names is not built yet."""
        ...

    def loading(self) -> AbstractContextManager[RawLoad]:
        """A load of the raw tables, ended by the block (DuckDB also reloads the PED change log)."""
        ...

    def load_record(self, day: date) -> Any:
        """`day`'s load record (`raw.record.Recorded`), None when the day was never loaded."""
        ...

    def alert_log(self) -> Any:
        """The `alerts.ledger.AlertLog` of this warehouse."""
        ...

    def raise_log(self) -> Any:
        """The `alerts.raise_log.RaiseLog` of this warehouse (the PED raise notices' record)."""
        ...

    def statement_log(self) -> Any:
        """The `statements.ledger.StatementLog` of this warehouse (next to alert_log)."""
        ...

    def dbt_environment(self) -> dict[str, str]:
        """The environment variables profiles.yml and the sources read for this warehouse."""
        ...

    def writable_problem(self) -> str | None:
        """What keeps a command from writing this warehouse, in one line, found before any
        work starts; None when nothing does (a missing BigQuery grant shows in its first job)."""
        ...

"""The billing step asks the warehouse which months may close (int_billing_months__closable,
the macro ledger_closable_months' answer for the build's run day); Python keeps no copy of
the rule. The end-to-end close on a real dbt build is tests/replica_ledger/test_billing_close.py."""

from __future__ import annotations

from datetime import date

import pytest

from replica_ledger.settings import Settings
from replica_ledger.steps.billing import ClosableMonthsOfAnotherDay, billing_due
from replica_ledger.warehouse.duckdb import connect

DAY = date(2026, 11, 2)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(duckdb_path=tmp_path / "w.duckdb")


def closable(settings: Settings, run_day: date, *months: date) -> None:
    with connect(settings.duckdb_path) as con:
        con.execute("create or replace table int_billing_months__closable (billing_month date, run_day date)")
        for month in months:
            con.execute("insert into int_billing_months__closable values (?, ?)", [month, run_day])


def test_the_months_come_from_the_warehouse_and_the_closed_ones_are_checked(settings):
    closable(settings, DAY, date(2026, 10, 1), date(2026, 9, 1))
    assert billing_due(settings, DAY) == {
        "snapshot_date": "2026-11-02",
        "months_to_close": ["2026-09-01", "2026-10-01"],
        "closed_months_to_check": [],
        "due": True,
    }
    with connect(settings.duckdb_path) as con:
        con.execute("create table fct_billing_statements as select date '2026-09-01' as billing_month")
    due = billing_due(settings, DAY)
    assert (due["months_to_close"], due["closed_months_to_check"]) == (["2026-10-01"], ["2026-09-01"])


def test_nothing_closable_is_nothing_due(settings):
    closable(settings, DAY)
    assert billing_due(settings, DAY)["due"] is False


def test_months_built_for_another_day_are_refused(settings):
    closable(settings, date(2026, 11, 3), date(2026, 10, 1))
    with pytest.raises(ClosableMonthsOfAnotherDay, match="built for \\['2026-11-03'\\], not 2026-11-02"):
        billing_due(settings, DAY)

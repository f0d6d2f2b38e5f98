"""The billing step: which months the run may close or restate, the close, and its summary."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

from replica_ledger.settings import Settings

log = logging.getLogger(__name__)

# The billing step's models; the day's build leaves them (and their tests) to it, so a
# billing failure (e.g. a month with no rate in force) never holds back the alerts.
BILLING_MODELS = "int_billing_lines+"
# The append-only statements ledger (contract §5): `make rebuild` keeps it as it is.
STATEMENTS_LEDGER = "fct_billing_statements"


def is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


class ClosableMonthsOfAnotherDay(RuntimeError):
    """int_billing_months__closable was built for another run day than the one asked about."""


def billing_due(settings: Settings, day: date) -> dict:
    """Whether the run for `day` has a month to close or may restate one, from the warehouse.

    Which months may close is the warehouse's answer (the view int_billing_months__closable,
    built by the day's build from the macro ledger_closable_months): a month is closed by the
    first run whose snapshot day is on or after its last day, so a missed month-end run is
    made up by the next run. A closable month without a statement is to close. Once a month
    is closed, every later run checks it for restatement (a late PED row or a rate correction
    can change a closed line on any day); fct_billing_statements writes only the lines that
    changed. Asked after the build of `day` (the DAG's order), never before it.
    """
    from replica_ledger.warehouse import open_warehouse, queries

    rows = queries.closable_months(open_warehouse(settings))
    built_for = {row["run_day"] for row in rows}
    if built_for - {day}:
        raise ClosableMonthsOfAnotherDay(
            f"the closable months in the warehouse were built for {sorted(map(str, built_for))}, not {day}: "
            f"run the build of {day} before its billing step"
        )
    closable = sorted(row["billing_month"] for row in rows)
    closed = set(closed_months(settings))
    to_close = [month for month in closable if month not in closed]
    to_check = [month for month in closable if month in closed]
    due = {
        "snapshot_date": day.isoformat(),
        "months_to_close": [month.isoformat() for month in to_close],
        "closed_months_to_check": [month.isoformat() for month in to_check],
        "due": bool(to_close or to_check),
    }
    log.info("billing %s: %s", day, due)
    return due


def closed_months(settings: Settings) -> list[date]:
    """Months with a statement in fct_billing_statements (none before the first close)."""
    from replica_ledger.warehouse import open_warehouse, queries

    return [row["billing_month"] for row in queries.statement_rows(open_warehouse(settings), queries.STATEMENT_MONTHS)]


def build_billing(settings: Settings, day: date) -> dict:
    """Close every month the run for `day` may close, restate changed lines of closed ones.

    fct_billing_statements decides line by line (new month: version 1; changed line:
    version n+1 with its reason; unchanged: nothing); the summary says which months were
    closed or restated by this run, read from the ledger before and after.
    """
    from replica_ledger.dbt_runner import build_window

    if not settings.dbt_daily_tests:
        # The days were built without their data tests: test everything once before billing.
        build_window(settings, day, settings.lookback_days, "--exclude", BILLING_MODELS, command="test")
    before = _statement_keys(settings)
    build_window(settings, day, settings.lookback_days, "--select", BILLING_MODELS)
    written = _statement_keys(settings) - before
    closed = sorted({month for month, _, _, version in written if version == 1} - set(_months_of(before)))
    restated = sorted({month for month, _, _, version in written if version > 1 or month in _months_of(before)})
    summary = {
        "snapshot_date": day.isoformat(),
        "months_closed": [month.isoformat() for month in closed],
        "months_restated": [month.isoformat() for month in restated],
        "lines_written": len(written),
        "months": [billing_summary(settings, month) for month in sorted({*closed, *restated})],
    }
    log.info(
        "billing %s: closed %s, restated %s (%d new statement line(s))",
        day,
        summary["months_closed"] or "none",
        summary["months_restated"] or "none",
        len(written),
    )
    return summary


def _statement_keys(settings: Settings) -> set[tuple]:
    from replica_ledger.warehouse import open_warehouse, queries

    rows = queries.statement_rows(open_warehouse(settings), queries.STATEMENT_KEYS)
    return {(row["billing_month"], row["namespace"], row["deployment"], row["statement_version"]) for row in rows}


def _months_of(keys: set[tuple]) -> set[date]:
    return {key[0] for key in keys}


def billing_summary(settings: Settings, month: date) -> dict:
    """The month's current statement lines (mart_monthly_billing), amounts as exact decimals."""
    from replica_ledger.warehouse import open_warehouse, queries

    rows = queries.month_bills(open_warehouse(settings), month)
    for row in rows:
        log.info(
            "bill %s %s/%s (%s) v%s: max %s, %s vCPU, %s GB -> %s (prorated %s; observed max %s, exposure %s)%s",
            month,
            row["namespace"],
            row["deployment"],
            row["team"],
            row["statement_version"],
            row["billed_max_replicas"],
            row["cpu"],
            row["memory_gb"],
            row["amount"],
            row["prorated_amount"],
            row["observed_max_replicas"],
            row["unapproved_exposure_amount"],
            f" restated: {row['restatement_reason']}" if row["restatement_reason"] else "",
        )
    money = ("amount", "prorated_amount", "unapproved_exposure_amount")
    return {
        "billing_month": month.isoformat(),
        "apis": len(rows),
        # Exact: the warehouse returns decimals; XCom gets them as strings ("236.53").
        "total_amount": str(sum((Decimal(row["amount"]) for row in rows), Decimal("0.00"))),
        "bills": [{**row, **{key: str(row[key]) for key in money}} for row in rows],
    }

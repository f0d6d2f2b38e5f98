"""The build step: dbt for the run's window, and what it found; `make rebuild`."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from replica_ledger.settings import Settings
from replica_ledger.steps.billing import BILLING_MODELS, STATEMENTS_LEDGER, billing_due
from replica_ledger.steps.load import lookback

log = logging.getLogger(__name__)


def build_day(settings: Settings, day: date, *, lookback_days: int | None = None) -> dict:
    """dbt build of everything but the billing models, for the window [day - lookback_days,
    day] (the DAG passes its run window, steps.load.window_days_back; default the whole
    lookback window): the per-day facts rebuild every day of it, from the raw tables and
    limits known now. The alert_log exists from here on, empty until the first post, so a
    check or a dashboard reading it never meets a missing table."""
    from replica_ledger.dbt_runner import build_window
    from replica_ledger.warehouse import open_warehouse

    days_back = lookback(settings, lookback_days)
    daily_tests = [] if settings.dbt_daily_tests else ["--exclude-resource-type", "test"]
    build_window(settings, day, days_back, "--exclude", BILLING_MODELS, *daily_tests)
    open_warehouse(settings).alert_log()  # creates the table when missing (both warehouses)
    rebuilt_from = day - timedelta(days=days_back)
    log.info("build %s: rebuilt %s..%s", day, rebuilt_from, day)
    return {**run_summary(settings, day), "rebuilt_from": rebuilt_from.isoformat()}


def rebuild(settings: Settings) -> dict:
    """`make rebuild`: every dbt model rebuilt (--full-refresh, no run day) from the raw
    tables already loaded; the raw tables and the two ledgers are kept.

    fct_billing_statements is left out of the selection: a rebuild neither closes nor
    restates a month (the billing step of a run does), and --full-refresh never drops it
    anyway (full_refresh: false). Before the first month close there is no ledger yet, so
    the billing models are left to that close. alert_log is written by the alert task,
    never by dbt. The data tests run on the rebuilt models.
    """
    from replica_ledger.dbt_runner import build_vars, run_dbt
    from replica_ledger.warehouse import open_warehouse, queries

    warehouse = open_warehouse(settings)
    has_ledger = bool(queries.statement_rows(warehouse, queries.STATEMENT_COUNT))
    keep = [STATEMENTS_LEDGER] if has_ledger else [BILLING_MODELS]
    command = ["build", "--full-refresh", "--exclude", *keep, "--exclude-resource-type", "unit_test"]
    run_dbt(settings, [*command, "--vars", build_vars(settings)], window=None)
    warehouse.alert_log()  # kept when it exists; created empty when it does not (contract §2)
    days = queries.snapshot_days(warehouse)
    summary = {
        "rebuilt_days": days["days"],
        "first_day": days["first_day"].isoformat() if days["first_day"] else None,
        "last_day": days["last_day"].isoformat() if days["last_day"] else None,
        "kept": ["raw tables", "alert_log", *([STATEMENTS_LEDGER] if has_ledger else [])],
        "billing_models": "rebuilt from the kept ledger" if has_ledger else "left to the first month close",
    }
    log.info("rebuild: %s", summary)
    return summary


def run_summary(settings: Settings, day: date) -> dict:
    """What the day's build found: counts the run log and the operator care about."""
    from replica_ledger.warehouse import open_warehouse, queries

    warehouse = open_warehouse(settings)
    breaches = queries.breaches_of_day(warehouse, day)
    quarantine = [
        {"quarantine_reason": row["quarantine_reason"], "rows": row["row_count"]}
        for row in queries.quarantine_reasons(warehouse)
    ]
    summary = {
        "snapshot_date": day.isoformat(),
        "breaches": breaches,
        "new_episodes": sum(row["new_episodes"] for row in breaches),
        "gaps": queries.gaps_of_day(warehouse, day),
        "quarantined_change_rows": sum(row["rows"] for row in quarantine),
        "quarantine_reasons": quarantine,
        # What the billing step of this run will do (it reports what it did).
        "billing": {key: value for key, value in billing_due(settings, day).items() if key != "snapshot_date"},
    }
    log.info("build %s: %s", day, summary)
    return summary

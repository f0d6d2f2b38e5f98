"""The task bodies: each turns its task context into a `RunInfo` once and calls plain steps.

The DAG's tasks (built in `dag_local` / `dag_gcp`) import this module when they run. Steps
below it (`replica_ledger.pipeline`, `replica_ledger.alerts`, `replica_ledger.docs`) take
`Settings`, the snapshot day and plain flags: none of them reads a task context. Nothing
here imports Airflow.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from replica_ledger import pipeline
from replica_ledger.airflow.context import RunInfo
from replica_ledger.settings import Settings, load_settings

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- steps


def take_snapshot(context: dict[str, Any]) -> dict:
    """Only a regular run for the current day may take a live snapshot; a backfill never does."""
    run, settings = RunInfo.from_context(context), load_settings()
    live_allowed = run.is_current_day(settings.live_snapshot_tolerance_days)
    return pipeline.take_snapshot(settings, run.snapshot_day, live_allowed=live_allowed)


def preflight(context: dict[str, Any]) -> dict:
    """Production only: one failure naming every missing connection, pool, dataset, table, bucket."""
    from replica_ledger.airflow.preflight import run_preflight

    return run_preflight(load_settings(), _routes_csv(load_settings()))


def load(context: dict[str, Any]) -> dict:
    run, settings = RunInfo.from_context(context), load_settings()
    if settings.gcp is not None:
        from replica_ledger.airflow.preflight import require_passed

        require_passed(context)
    # One rule for every run, backfill or not: the load decides the run window (steps.load).
    return pipeline.load_day(settings, run.snapshot_day)


def build(context: dict[str, Any]) -> dict:
    """The run's window as its load recorded it, [max(D - L, E), D] (pipeline.window_days_back)."""
    run, settings = RunInfo.from_context(context), load_settings()
    days_back = pipeline.window_days_back(settings, run.snapshot_day)
    return pipeline.build_day(settings, run.snapshot_day, lookback_days=days_back)


def choose_billing_branch(context: dict[str, Any], close_task: str, skip_task: str) -> str:
    """Close (or check for restatement) when the warehouse says a month is closable.

    Decided from the warehouse, not from "is the snapshot day a month's last day": a run
    for Nov 2 closes October if the Oct 31 run never happened (contract §5).
    """
    due = pipeline.billing_due(load_settings(), RunInfo.from_context(context).snapshot_day)
    if due["months_to_close"]:
        log.info("billing: months to close %s", ", ".join(due["months_to_close"]))
    if due["closed_months_to_check"]:
        log.info("billing: closed months checked for restatement %s", ", ".join(due["closed_months_to_check"]))
    return close_task if due["due"] else skip_task


def close_billing_month(context: dict[str, Any]) -> dict:
    """Close every closable month not closed yet and restate changed lines; the return value
    (XCom) lists the months closed and restated by this run."""
    run, settings = RunInfo.from_context(context), load_settings()
    summary = pipeline.build_billing(settings, run.snapshot_day)
    log.info(
        "billing notice: months closed %s, months restated %s",
        ", ".join(summary["months_closed"]) or "none",
        ", ".join(summary["months_restated"]) or "none",
    )
    summary["statements"] = publish_statements(run, settings, summary)
    return summary


def publish_statements(run: RunInfo, settings: Settings, billing: dict) -> dict:
    """The teams' statements of the months the close touched: written (a backfill too), then
    announced once per version and route (never by a backfill: statements.notify)."""
    from replica_ledger.airflow.slack import SLACK
    from replica_ledger.statements import months_due, publish

    return publish(
        settings,
        months_due(settings, billing),
        run_id=run.run_id,
        is_backfill=run.is_backfill,
        transport=SLACK,
        routes_csv=_routes_csv(settings),
    )


def docs_due(context: dict[str, Any]) -> bool:
    """Refresh the dbt docs for the current day's run, and once per month otherwise.

    The lineage only changes with a deploy; what a refresh adds is the catalog (row
    counts, columns). Doing it on every day of a 30-day backfill would cost 30 dbt docs
    runs for one useful result, so past days refresh only when they close a month.
    """
    run = RunInfo.from_context(context)
    return run.is_current_day(load_settings().live_snapshot_tolerance_days) or pipeline.is_month_end(run.snapshot_day)


# --------------------------------------------------------------------------- policies


def write_policies(context: dict[str, Any]) -> dict:
    """The day's policy folder: the limits in force at the end of the snapshot day, so a
    re-run or a backfill of the day writes the same bytes (policies.generate)."""
    from replica_ledger.policies.generate import write_policies as write

    run = RunInfo.from_context(context)
    summary = write(load_settings(), run.snapshot_day)
    log.info("policies of %s: %d limits in %s", run.snapshot_day, summary["limits"], summary["folder"])
    return summary


def policy_apply_due(context: dict[str, Any]) -> bool:
    """Only the current day's regular run applies: a backfill or a past day never puts an old
    registry back into the clusters. Whether live capture is on does not matter here."""
    run = RunInfo.from_context(context)
    due = run.is_current_day(tolerance_days=1)
    log.info("policy apply for %s: %s", run.snapshot_day, "due" if due else "not for a past day or a backfill")
    return due


# --------------------------------------------------------------------------- alerts


def episodes_of_day(settings: Settings, day: date) -> list[dict]:
    """The new, open and resolved episodes of `day` (dbt model fct_breach_alerts), either
    warehouse, and those of the days before it as far back as alerts may go: a late file
    can reveal an episode that started and ended before `day`."""
    from replica_ledger.alerts.read_model import episodes_of_day as read_episodes

    return read_episodes(settings, day, since=day - timedelta(days=settings.alert_max_age_days))


def _alert_batch(run: RunInfo, settings: Settings):
    from replica_ledger.alerts import AlertBatch, episodes_from_rows

    return AlertBatch(
        snapshot_date=run.snapshot_day,
        run_id=run.run_id,
        dag_id=run.dag_id or "replica_ledger_daily",
        episodes=episodes_from_rows(episodes_of_day(settings, run.snapshot_day)),
        docs_url=settings.docs_url,
        run_url=run.log_url,
        audit_source_on=settings.audit_log is not None,
        ped_url_template=settings.ped_url_template,
        currency=settings.currency,
    )


def _routes_csv(settings: Settings):
    return settings.dbt_project_dir / "seeds" / "team_slack_routes.csv"


def _may_post(run: RunInfo, settings: Settings) -> tuple[bool, str]:
    from replica_ledger.alerts import should_post

    allowed, reason = should_post(
        run.snapshot_day, is_backfill=run.is_backfill, max_age_days=settings.alert_max_age_days
    )
    if not allowed:  # decided before reading any warehouse
        log.info("no alert for %s: %s", run.snapshot_day, reason)
    return allowed, reason


def choose_alert_branch(context: dict[str, Any], post_task: str, skip_task: str) -> str:
    """Post when the run may post and some route has an episode it was not told about."""
    from replica_ledger.alerts import load_routes, pending_announcements
    from replica_ledger.warehouse import open_warehouse

    run, settings = RunInfo.from_context(context), load_settings()
    if not _may_post(run, settings)[0]:
        return skip_task
    from replica_ledger.alerts.raises import pending_raises, raises_of_day

    routes, warehouse = load_routes(_routes_csv(settings)), open_warehouse(settings)
    pending = pending_announcements(
        _alert_batch(run, settings), routes, warehouse.alert_log(), settings.alert_max_age_days
    )
    raises = pending_raises(raises_of_day(settings, run.snapshot_day), routes.default, warehouse.raise_log())
    log.info(
        "%d breach episode(s) and %d PED limit raise(s) of %s not announced yet",
        len(pending),
        len(raises),
        run.snapshot_day,
    )
    return post_task if pending or raises else skip_task


def post_alerts(context: dict[str, Any]) -> dict:
    """Post the route's new episodes, then the platform route's notice of the PED raises it
    has not heard of; in production a route whose connection is missing fails the task,
    naming it, and its episodes (or raises) stay unsent in alert_log (limit_raise_log)."""
    from replica_ledger.airflow.slack import SLACK
    from replica_ledger.alerts import AlertDeliveryError, load_routes, send_alerts
    from replica_ledger.alerts.outbox import outbox_of
    from replica_ledger.alerts.raises import raises_of_day, send_raise_notices
    from replica_ledger.warehouse import open_warehouse

    run, settings = RunInfo.from_context(context), load_settings()
    allowed, reason = _may_post(run, settings)
    if not allowed:
        return {"allowed": False, "reason": reason, "messages": 0, "results": []}
    routes, warehouse = load_routes(_routes_csv(settings)), open_warehouse(settings)
    failed: AlertDeliveryError | None = None
    try:
        report = send_alerts(
            _alert_batch(run, settings),
            routes=routes,
            ledger=warehouse.alert_log(),
            is_backfill=run.is_backfill,
            max_age_days=settings.alert_max_age_days,
            transport=SLACK,
            outbox_dir=outbox_of(settings),
        )
    except AlertDeliveryError as error:  # the raise notice is tried all the same
        failed, report = error, None
    raised = send_raise_notices(
        raises_of_day(settings, run.snapshot_day),
        routes=routes,
        ledger=warehouse.raise_log(),
        is_backfill=run.is_backfill,
        max_age_days=settings.alert_max_age_days,
        transport=SLACK,
        snapshot_date=run.snapshot_day,
        run_id=run.run_id,
        dag_id=run.dag_id or "replica_ledger_daily",
        currency=settings.currency,
        ped_url_template=settings.ped_url_template,
        run_url=run.log_url,
        outbox_dir=outbox_of(settings),
    )
    result = raised.result
    raise_failed = result is not None and (
        result.status == "failed" or (result.status == "unconfirmed" and bool(result.detail))
    )
    if failed is not None:
        raise failed
    if raise_failed:
        raise AlertDeliveryError(f"PED limit raise notice not delivered: {result.detail}", [result])
    return {
        "allowed": report.allowed,
        "reason": report.reason,
        "messages": len(report.messages),
        "results": [str(result) for result in report.results],
        "route_problems": report.problems,
        "raise_notice": str(raised.result) if raised.result else None,
        "raises_announced": [r.change_id for r in raised.notice.raises] if raised.notice else [],
    }

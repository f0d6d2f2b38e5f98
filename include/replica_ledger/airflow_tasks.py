"""Glue between Airflow's task context and the pipeline steps.

Works on Airflow 2.11 and 3.x: only context keys both versions provide are used
(`logical_date`, `dag_run`, `run_id`, `ti`), and nothing here imports Airflow at module
level, so the DAG file can import it while being parsed.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

from replica_ledger import pipeline
from replica_ledger.settings import Settings, load_settings

log = logging.getLogger(__name__)

BACKFILL_RUN_TYPE = "backfill"  # DagRunType.BACKFILL_JOB's value on both 2.11 and 3.x


def snapshot_day(context: dict[str, Any]) -> date:
    """The snapshot day D of a run: the UTC date of its logical date.

    The data-interval timetable gives the run for day D the logical date D 00:00 UTC on
    both Airflow versions. A manual Airflow 3 run may have no logical date: it then
    closes the day before the moment it was asked to run after.
    """
    logical = context.get("logical_date")
    if logical is None:
        run_after = getattr(context.get("dag_run"), "run_after", None) or datetime.now(UTC)
        return (run_after.astimezone(UTC) - timedelta(days=1)).date()
    return logical.astimezone(UTC).date()


def run_type(context: dict[str, Any]) -> str:
    value = getattr(context.get("dag_run"), "run_type", None)
    return str(getattr(value, "value", value) or "")


def is_backfill(context: dict[str, Any]) -> bool:
    run_id = str(context.get("run_id") or "")
    return run_type(context) == BACKFILL_RUN_TYPE or run_id.startswith("backfill__")


def may_touch_live_systems(context: dict[str, Any], settings: Settings, day: date) -> bool:
    """Only a run for the current day may take a live snapshot; a backfill never does."""
    return not is_backfill(context) and pipeline.is_current_day(day, settings.live_snapshot_tolerance_days)


# --------------------------------------------------------------------------- steps


def take_snapshot(context: dict[str, Any]) -> dict:
    settings, day = load_settings(), snapshot_day(context)
    return pipeline.take_snapshot(settings, day, live_allowed=may_touch_live_systems(context, settings, day))


def load(context: dict[str, Any]) -> dict:
    return pipeline.load_day(load_settings(), snapshot_day(context))


def build(context: dict[str, Any]) -> dict:
    return pipeline.build_day(load_settings(), snapshot_day(context))


def choose_billing_branch(context: dict[str, Any], close_task: str, skip_task: str) -> str:
    return close_task if pipeline.is_month_end(snapshot_day(context)) else skip_task


def close_billing_month(context: dict[str, Any]) -> dict:
    return pipeline.build_billing(load_settings(), snapshot_day(context))


def docs_due(context: dict[str, Any]) -> bool:
    """Refresh the dbt docs for the current day's run, and once per month otherwise.

    The lineage only changes with a deploy; what a refresh adds is the catalog (row
    counts, columns). Doing it on every day of a 30-day backfill would cost 30 dbt docs
    runs for one useful result, so past days refresh only when they close a month.
    """
    settings, day = load_settings(), snapshot_day(context)
    current = not is_backfill(context) and pipeline.is_current_day(day, settings.live_snapshot_tolerance_days)
    return current or pipeline.is_month_end(day)


# --------------------------------------------------------------------------- alerts

_EPISODES_SQL = """
select cluster, namespace, deployment, team, breach_type, observed_value, approved_max_replicas,
       snapshot_date as started_on, 'new' as status, cpu, memory_gb
from fct_replica_breaches
where snapshot_date = $day and is_new_episode
union all
select b.cluster, b.namespace, b.deployment, b.team, b.breach_type, b.observed_value,
       b.approved_max_replicas, e.started_on, 'open' as status, b.cpu, b.memory_gb
from fct_replica_breaches as b
inner join fct_breach_episodes as e
    on b.cluster = e.cluster and b.namespace = e.namespace and b.deployment = e.deployment
    and b.breach_type = e.breach_type and b.snapshot_date between e.started_on and e.last_seen_on
where b.snapshot_date = $day and not b.is_new_episode
union all
select cluster, namespace, deployment, team, breach_type, last_observed_value, last_approved_max_replicas,
       started_on, 'resolved' as status, cpu, memory_gb
from fct_breach_episodes
where ended_on = $day
order by status, namespace, deployment, breach_type, cluster
"""


def episodes_of_day(settings: Settings, day: date) -> list[dict]:
    from replica_ledger import warehouse

    with warehouse.connect(settings.duckdb_path) as con:
        cursor = con.execute(_EPISODES_SQL, {"day": day})
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def choose_alert_branch(context: dict[str, Any], post_task: str, skip_task: str) -> str:
    from replica_ledger.alerts import should_post

    settings, day = load_settings(), snapshot_day(context)
    if settings.dbt_target == "bigquery":
        # The episode query and the sent-alert ledger are DuckDB-only so far (docs/deploy-composer.md).
        log.warning("no alert for %s: Slack alerts are not wired to BigQuery yet", day)
        return skip_task
    allowed, reason = should_post(context, day, settings.alert_max_age_days)
    if not allowed:
        log.info("no alert for %s: %s", day, reason)
        return skip_task
    new = [row for row in episodes_of_day(settings, day) if row["status"] == "new"]
    log.info("%d new breach episode(s) on %s", len(new), day)
    return post_task if new else skip_task


def _rates(settings: Settings, day: date):
    from replica_ledger.alerts import BillingRates
    from replica_ledger.billing_rates import rates_in_force

    return BillingRates(**rates_in_force(settings.dbt_project_dir / "seeds" / "billing_rates.csv", day))


def post_alerts(context: dict[str, Any]) -> dict:
    from replica_ledger.alerts import AlertBatch, DuckDBSentLedger, episodes_from_rows, send_alerts

    settings, day = load_settings(), snapshot_day(context)
    ti = context.get("ti")
    batch = AlertBatch(
        snapshot_date=day,
        run_id=str(context.get("run_id")),
        dag_id=str(getattr(context.get("dag"), "dag_id", "replica_ledger_daily")),
        episodes=episodes_from_rows(episodes_of_day(settings, day)),
        rates=_rates(settings, day),
        docs_url=os.environ.get("REPLICA_LEDGER_DOCS_URL"),
        run_url=getattr(ti, "log_url", None),
    )
    report = send_alerts(
        batch,
        context=context,
        routes=settings.dbt_project_dir / "seeds" / "team_slack_routes.csv",
        ledger=DuckDBSentLedger(settings.duckdb_path),
        outbox_dir=settings.slack_outbox,
        max_age_days=settings.alert_max_age_days,
    )
    return {
        "allowed": report.allowed,
        "reason": report.reason,
        "messages": len(report.messages),
        "results": [str(result) for result in report.results],
    }

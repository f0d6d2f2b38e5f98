"""replica_ledger_daily: snapshot -> load -> dbt -> alert -> bill, once per snapshot day.

Kept thin on purpose: every step is a function in `replica_ledger` (include/), imported
inside the task so that parsing this file stays cheap and touches no DB or network.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator

from replica_ledger.airflow.compat import DAG, CronDataIntervalTimetable, TaskGroup, task
from replica_ledger.alerts import failure_notifier
from replica_ledger.settings import load_settings

DAG_ID = "replica_ledger_daily"
SETTINGS = load_settings()  # environment variables only: free at parse time
# Every task that opens the DuckDB file takes the one slot of this pool: DuckDB allows a
# single writing process.
WAREHOUSE_POOL = SETTINGS.warehouse_pool

DOC_MD = """
### replica_ledger_daily

One run per **snapshot day D** (logical date D 00:00 UTC, started just after midnight at
the end of D on Airflow 2.11 and 3.x alike, through an explicit data-interval timetable).

1. **snapshot** - the day's cluster snapshots: a live capture only for the current day;
   a past day (backfill) only reads the archive. A missing file is recorded as a gap.
2. **load** - replaces day D in the raw tables and reloads the PED change log (idempotent).
3. **transform** - `dbt build` for D: SCD2 limits, daily fact, breaches, episodes, gaps.
4. **alert** - new breach episodes go to Slack (or the outbox); backfills never post.
5. **billing** - closes every month whose last day the run has reached and that is not
   closed yet (a missed month-end run is made up by the next run), and restates a closed
   line that changed (late PED row, rate correction) as a new statement version.
6. **docs** - refreshes the dbt docs (lineage, Browse > dbt Docs) for the current day's
   run and for each closed month; a failure here never holds back alerts or billing.

Runbook: see the repository README. Data contract: `shared/spec/CONTRACT.md`.
"""

default_args = {
    "owner": "data-platform",
    "retries": SETTINGS.retries,
    "retry_delay": timedelta(seconds=SETTINGS.retry_delay_seconds),
    "on_failure_callback": failure_notifier(SETTINGS.slack_conn_id),
}

with DAG(
    dag_id=DAG_ID,
    description="Snapshot Deployments/HPAs, compare with PED limits, alert on breaches, bill monthly.",
    doc_md=DOC_MD,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    dagrun_timeout=timedelta(hours=3),
    tags=["replica-ledger", "kubernetes", "billing"],
) as dag:
    if SETTINGS.gcp is not None:
        # Production (Composer): collector pods write the GCS archive.
        from replica_ledger.gcp.dag import LOAD_TRIGGER_RULE, build_gcp_snapshot

        snapshot = build_gcp_snapshot(SETTINGS)
        load_trigger_rule = LOAD_TRIGGER_RULE
    else:
        with TaskGroup("snapshot", tooltip="Capture (current day) or read (past day) the snapshots"):

            @task(task_id="take_snapshot")
            def take_snapshot(**context) -> dict:
                from replica_ledger import airflow_tasks

                return airflow_tasks.take_snapshot(context)

            snapshot = take_snapshot()
        load_trigger_rule = "all_success"

    with TaskGroup("load", tooltip="Replace the day in the raw tables (DuckDB or BigQuery, per the dbt target)"):

        @task(task_id="load_day", pool=WAREHOUSE_POOL, trigger_rule=load_trigger_rule)
        def load_day(**context) -> dict:
            from replica_ledger import airflow_tasks

            return airflow_tasks.load(context)

        loaded = load_day()
    snapshot >> loaded

    with TaskGroup("transform", tooltip="dbt build for the day"):

        @task(task_id="dbt_build", pool=WAREHOUSE_POOL)
        def dbt_build(**context) -> dict:
            from replica_ledger import airflow_tasks

            return airflow_tasks.build(context)

        built = dbt_build()

    with TaskGroup("alert", tooltip="Slack for new breach episodes; silence for backfills"):

        @task.branch(task_id="route_alerts", pool=WAREHOUSE_POOL)
        def route_alerts(**context) -> str:
            from replica_ledger import airflow_tasks

            return airflow_tasks.choose_alert_branch(context, "alert.post_slack", "alert.no_alert")

        @task(task_id="post_slack", pool=WAREHOUSE_POOL, retries=3)
        def post_slack(**context) -> dict:
            from replica_ledger import airflow_tasks

            return airflow_tasks.post_alerts(context)

        alert_branch = route_alerts()
        alert_branch >> [post_slack(), EmptyOperator(task_id="no_alert")]

    with TaskGroup("billing", tooltip="Close the months reached, restate changed lines"):

        @task.branch(task_id="route_billing")
        def route_billing(**context) -> str:
            from replica_ledger import airflow_tasks

            return airflow_tasks.choose_billing_branch(context, "billing.close_month", "billing.nothing_to_close")

        @task(task_id="close_month", pool=WAREHOUSE_POOL)
        def close_month(**context) -> dict:
            from replica_ledger import airflow_tasks

            return airflow_tasks.close_billing_month(context)

        billing_branch = route_billing()
        billing_branch >> [close_month(), EmptyOperator(task_id="nothing_to_close")]

    with TaskGroup("docs", tooltip="dbt docs (lineage) for the Airflow UI"):

        @task.short_circuit(task_id="docs_due", ignore_downstream_trigger_rules=False)
        def docs_due(**context) -> bool:
            from replica_ledger import airflow_tasks

            return airflow_tasks.docs_due(context)

        @task(task_id="generate_docs", pool=WAREHOUSE_POOL)
        def generate_docs() -> dict:
            from replica_ledger.docs import generate_and_publish

            return generate_and_publish()

        docs_gate = docs_due()
        docs_gate >> generate_docs()

    loaded >> built >> [alert_branch, billing_branch, docs_gate]

"""The task groups of replica_ledger_daily, built inside the DAG file's `with DAG(...)` block.

    snapshot   take_snapshot (local)  |  dag_gcp's collector pods (REPLICA_LEDGER_ENV=gcp)
    load       load_day
    transform  dbt_build
    alert      route_alerts -> post_slack | no_alert
    billing    route_billing -> close_month | nothing_to_close
    docs       docs_due -> generate_docs
    policies   write_policies [-> apply_due -> apply[cluster]: REPLICA_LEDGER_POLICY_APPLY=true, production]

`build_daily` wires them; only the snapshot group differs between the local wiring (here)
and the production one (`dag_gcp`). Each task body is one call into `airflow.tasks`,
imported when the task runs, so building the DAG imports neither the steps nor dbt.
"""

from __future__ import annotations

from replica_ledger.airflow.compat import TaskGroup, task
from replica_ledger.settings import Settings


def build_local_snapshot():
    """The local snapshot group: a live capture for the current day when a kubeconfig is set,
    else the archive folder as it is."""
    with TaskGroup("snapshot", tooltip="Capture (current day) or read (past day) the snapshots"):

        @task(task_id="take_snapshot")
        def take_snapshot(**context) -> dict:
            from replica_ledger.airflow import tasks

            return tasks.take_snapshot(context)

        return take_snapshot()


def build_daily(settings: Settings) -> None:
    """Every task group of the day, wired: snapshot >> load >> transform >> alert, billing, docs."""
    from airflow.providers.standard.operators.empty import EmptyOperator

    from replica_ledger.airflow.deadline import task_sla

    # Every task that opens the DuckDB file takes the one slot of this pool: DuckDB allows a
    # single writing process.
    pool = settings.warehouse_pool
    if settings.gcp is not None:
        from replica_ledger.airflow.dag_gcp import LOAD_TRIGGER_RULE, build_gcp_snapshot

        snapshot, load_trigger_rule = build_gcp_snapshot(settings), LOAD_TRIGGER_RULE
    else:
        snapshot, load_trigger_rule = build_local_snapshot(), "all_success"

    with TaskGroup("load", tooltip="Replace the day in the raw tables (DuckDB or BigQuery, per the dbt target)"):
        # On 2.11 the capture deadline is this task's SLA (airflow/deadline.py): the first task after the capture.
        @task(task_id="load_day", pool=pool, trigger_rule=load_trigger_rule, **task_sla(settings))
        def load_day(**context) -> dict:
            from replica_ledger.airflow import tasks

            return tasks.load(context)

        loaded = load_day()
    snapshot >> loaded

    with TaskGroup("transform", tooltip="dbt build for the day"):

        @task(task_id="dbt_build", pool=pool)
        def dbt_build(**context) -> dict:
            from replica_ledger.airflow import tasks

            return tasks.build(context)

        built = dbt_build()

    with TaskGroup("alert", tooltip="Slack for new breach episodes; silence for backfills"):

        @task.branch(task_id="route_alerts", pool=pool)
        def route_alerts(**context) -> str:
            from replica_ledger.airflow import tasks

            return tasks.choose_alert_branch(context, "alert.post_slack", "alert.no_alert")

        @task(task_id="post_slack", pool=pool, retries=3)
        def post_slack(**context) -> dict:
            from replica_ledger.airflow import tasks

            return tasks.post_alerts(context)

        alert_branch = route_alerts()
        alert_branch >> [post_slack(), EmptyOperator(task_id="no_alert")]

    with TaskGroup("billing", tooltip="Close the months reached, restate changed lines"):
        # Reads the warehouse (which months are closable): the DuckDB slot too.
        @task.branch(task_id="route_billing", pool=pool)
        def route_billing(**context) -> str:
            from replica_ledger.airflow import tasks

            return tasks.choose_billing_branch(context, "billing.close_month", "billing.nothing_to_close")

        @task(task_id="close_month", pool=pool)
        def close_month(**context) -> dict:
            from replica_ledger.airflow import tasks

            return tasks.close_billing_month(context)

        billing_branch = route_billing()
        billing_branch >> [close_month(), EmptyOperator(task_id="nothing_to_close")]

    with TaskGroup("docs", tooltip="dbt docs (lineage) for the Airflow UI"):

        @task.short_circuit(task_id="docs_due", ignore_downstream_trigger_rules=False)
        def docs_due(**context) -> bool:
            from replica_ledger.airflow import tasks

            return tasks.docs_due(context)

        @task(task_id="generate_docs", pool=pool)
        def generate_docs() -> dict:
            from replica_ledger.docs import generate_and_publish

            return generate_and_publish()

        docs_gate = docs_due()
        docs_gate >> generate_docs()

    with TaskGroup("policies", tooltip="The approved limits as admission policies and alert rules (docs/policies.md)"):
        # Reads dim_replica_limits: the DuckDB slot too.
        @task(task_id="write_policies", pool=pool)
        def write_policies(**context) -> dict:
            from replica_ledger.airflow import tasks

            return tasks.write_policies(context)

        written = write_policies()
        if settings.policy_apply and settings.gcp is not None:
            from replica_ledger.airflow.dag_gcp import build_policy_apply

            @task.short_circuit(task_id="apply_due")
            def apply_due(**context) -> bool:
                from replica_ledger.airflow import tasks

                return tasks.policy_apply_due(context)

            written >> apply_due() >> build_policy_apply(settings)

    loaded >> built >> [alert_branch, billing_branch, docs_gate, written]

"""The production preflight's Airflow side: the lookups `replica_ledger.preflight` is given
(does a Slack connection exist, does a pool exist), the Google clients, and the task body.

Airflow 3 gives a task no way to read pools (no ORM access from a task, and the execution
API has no pool route), so there the pool lookup answers None ("cannot be asked here"):
the capture deadline (airflow/deadline.py), which the scheduler evaluates, is what tells
the platform route about a run held back by a missing pool. Airflow 2.11 reads the pool
table.
"""

from __future__ import annotations

from typing import Any

from replica_ledger.settings import Settings

#: The preflight's task id; the load step checks it passed (tasks.load).
TASK_ID = "preflight"


#: Set on the load's failure when the preflight did not pass: the failure notifier stays
#: silent for it (airflow/failure.py), the preflight's own notice being the one message.
NOTIFIED_BY_PREFLIGHT = "replica_ledger_notified_by_preflight"


def require_passed(context: dict[str, Any]) -> None:
    """Fail the calling task unless the run's preflight passed (its return value is in XCom).

    The load runs after the collector pods whatever they did (trigger rule all_done), so it
    is the task that must not go on when the preflight failed. It fails, without retries, so
    that the run fails too: skipped, every task after it would be skipped and the run marked
    a success. Its failure is marked as already told: the preflight's failure notice is the
    one message to the platform route.
    """
    ti = context.get("ti") or context.get("task_instance")
    if ti is not None and ti.xcom_pull(task_ids=TASK_ID) is not None:
        return
    from replica_ledger.airflow.compat import fail_exception

    error = fail_exception()("the preflight did not pass: nothing is loaded (see the preflight task)")
    setattr(error, NOTIFIED_BY_PREFLIGHT, True)
    raise error


def pool_exists(name: str) -> bool | None:
    from replica_ledger.airflow.compat import IS_AIRFLOW_3

    if IS_AIRFLOW_3:
        return None
    from airflow.models.pool import Pool

    return Pool.get_pool(name) is not None


def run_preflight(settings: Settings, routes_csv) -> dict:
    """Every check of `replica_ledger.preflight` with the real lookups and clients; raises
    PreflightError naming everything missing."""
    from replica_ledger.airflow.slack import slack_connection_exists
    from replica_ledger.alerts.routes import load_routes
    from replica_ledger.preflight import preflight
    from replica_ledger.raw.schema import DAY_TABLES
    from replica_ledger.warehouse.bigquery import client as bigquery_client
    from replica_ledger.warehouse.google import storage_client

    preflight(
        settings,
        load_routes(routes_csv),
        conn_exists=slack_connection_exists,
        pool_exists=pool_exists,
        pools=(settings.warehouse_pool,),
        bigquery_client=bigquery_client(settings, "the preflight"),
        storage_client=storage_client(settings),
        raw_tables=DAY_TABLES,
    )
    return {"problems": 0}

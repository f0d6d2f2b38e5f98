"""The imports that differ between Airflow 2.11 and Airflow 3.x, in one place.

In the style of astronomer-cosmos's compatibility module: callers import the name from here
and never write `try: from airflow.sdk ... except ImportError` themselves. Airflow 3 moved
the authoring API into the Task SDK (`airflow.sdk`); 2.11 keeps it in `airflow`,
`airflow.decorators` and `airflow.utils`.
"""

from __future__ import annotations

import airflow

AIRFLOW_VERSION: str = airflow.__version__
AIRFLOW_MAJOR: int = int(AIRFLOW_VERSION.split(".")[0])
IS_AIRFLOW_3: bool = AIRFLOW_MAJOR >= 3

if IS_AIRFLOW_3:
    from airflow.sdk import DAG, CronDataIntervalTimetable, TaskGroup, task
else:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.timetables.interval import CronDataIntervalTimetable
    from airflow.utils.task_group import TaskGroup

# Defined in `context` (importable without Airflow); re-exported for callers that hold compat anyway.
from replica_ledger.airflow.context import BACKFILL_RUN_TYPE  # noqa: E402


def dagbag_class():
    """The DagBag (Airflow 3 moved it to `airflow.dag_processing`)."""
    if IS_AIRFLOW_3:
        from airflow.dag_processing.dagbag import DagBag
    else:
        from airflow.models.dagbag import DagBag
    return DagBag


def dag_run_logical_date_column():
    """The DagRun column to filter runs by day: `logical_date` on 3.x, `execution_date` on 2.11.

    On 2.11 `DagRun.logical_date` is a plain Python property that SQLAlchemy cannot filter on.
    """
    from airflow.models.dagrun import DagRun

    return DagRun.logical_date if IS_AIRFLOW_3 else DagRun.execution_date


def skip_exception() -> type[Exception]:
    """AirflowSkipException (Airflow 3 moved it to the Task SDK)."""
    if IS_AIRFLOW_3:
        from airflow.sdk.exceptions import AirflowSkipException
    else:
        from airflow.exceptions import AirflowSkipException
    return AirflowSkipException


def fail_exception() -> type[Exception]:
    """AirflowFailException: fails the task at once, without its retries (Task SDK on 3.x)."""
    if IS_AIRFLOW_3:
        from airflow.sdk.exceptions import AirflowFailException
    else:
        from airflow.exceptions import AirflowFailException
    return AirflowFailException


def parsing_module():
    """The module the DAG processor's parsing child imports first (the Task SDK on 3.x, models on 2.11)."""
    if IS_AIRFLOW_3:
        import airflow.sdk as module
    else:
        import airflow.models as module
    return module


__all__ = [
    "AIRFLOW_MAJOR",
    "AIRFLOW_VERSION",
    "BACKFILL_RUN_TYPE",
    "DAG",
    "IS_AIRFLOW_3",
    "CronDataIntervalTimetable",
    "TaskGroup",
    "dag_run_logical_date_column",
    "dagbag_class",
    "fail_exception",
    "parsing_module",
    "skip_exception",
    "task",
]

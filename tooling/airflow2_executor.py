"""The executor of `make backfill` on Airflow 2.11 (scripts/backfill.sh): each task in the
backfill's own process, its log in the task's log file.

2.11's SequentialExecutor starts one `airflow tasks run` process per task, and each spends
seconds importing Airflow and parsing the DAG before the task starts. Airflow's
DebugExecutor runs each task in the calling process, one at a time, as dag.test() does for
`make demo`, but writes no task log file: an operator reads what a backfilled run rebuilt
and why in the load task's log (steps/load.py). This one opens that file around each task,
as `airflow tasks run` does. Local only: Composer runs its own executor.
"""

from __future__ import annotations

from airflow.executors.debug_executor import DebugExecutor


class InProcessExecutor(DebugExecutor):
    """DebugExecutor, with each task's log written to its file (FileTaskHandler)."""

    def _run_task(self, ti) -> bool:
        ti.init_run_context(raw=True)
        try:
            return super()._run_task(ti)
        finally:
            for handler in ti.log.handlers:
                handler.close()

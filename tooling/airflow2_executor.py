"""The executor of `make backfill` on Airflow 2.11 (scripts/backfill.sh): each task in the
backfill's own process, its log in the task's log file.

2.11's SequentialExecutor starts one `airflow tasks run` process per task, and each spends
seconds importing Airflow and parsing the DAG before the task starts. Airflow's
DebugExecutor runs each task in the calling process, one at a time, as dag.test() does for
`make demo`, but writes no task log file: an operator reads what a backfilled run rebuilt
and why in the load task's log (steps/load.py). This one sends each task's logs to that
file, as `airflow tasks run` does. Local only: Composer runs its own executor.
"""

from __future__ import annotations

from airflow.cli.commands.task_command import _move_task_handlers_to_root, _redirect_stdout_to_ti_log
from airflow.executors.debug_executor import DebugExecutor


class InProcessExecutor(DebugExecutor):
    """DebugExecutor, with everything a task logs or prints written to its log file.

    The same three steps as 2.11's `airflow tasks run` (task_command.task_run): the task's
    file handler, then the root logger's handlers moved to it (the product's own loggers
    propagate to the root) and stdout and stderr redirected into it; all restored after.
    """

    def _run_task(self, ti) -> bool:
        ti.init_run_context(raw=True)
        try:
            with _move_task_handlers_to_root(ti), _redirect_stdout_to_ti_log(ti):
                return super()._run_task(ti)
        finally:
            for handler in ti.log.handlers:
                handler.close()

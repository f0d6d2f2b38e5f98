"""Run replica_ledger_daily for each day FROM..TO with `dag.test()`, in one process.

Used by `make demo` and the tests: a real Airflow run of the real DAG, on either Airflow
version, without a scheduler. Prints one line per day and exits non-zero if a run failed.

`--every N` runs FROM, FROM + N, ... and always TO: the DAG as if it had been down
between those days (tooling/cadence.py: each run loads the days it missed through its
lookback window, so N may be at most REPLICA_LEDGER_LOOKBACK_DAYS + 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime

DAG_ID = "replica_ledger_daily"


def load_dag(dags_folder: str):
    from replica_ledger.airflow.compat import dagbag_class

    bag = dagbag_class()(dag_folder=dags_folder)
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return bag.get_dag(DAG_ID)


def test_run(dag, logical_date: datetime):
    """`dag.test()` for one logical date: the keyword is `logical_date` on 3.x, `execution_date` on 2.11."""
    from replica_ledger.airflow.compat import IS_AIRFLOW_3

    if not IS_AIRFLOW_3:
        # Re-running a day deletes its earlier run, and SQLAlchemy must then resolve the
        # foreign key dag_run_note.user_id -> ab_user: a table of the FAB provider's models,
        # which nothing has imported in this process (NoReferencedTableError otherwise).
        import airflow.providers.fab.auth_manager.models  # noqa: F401 - registers the ab_user table

        return dag.test(execution_date=logical_date)
    return dag.test(logical_date=logical_date)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("from_day", type=date.fromisoformat)
    parser.add_argument("to_day", type=date.fromisoformat)
    parser.add_argument("--dags-folder", required=True)
    parser.add_argument("--every", type=int, default=1, help="run every N days (and on TO); default 1")
    args = parser.parse_args()
    from replica_ledger.command import settings_for_command
    from tooling.cadence import cadence_error, run_days

    error = cadence_error(args.every, settings_for_command(warehouse=True).lookback_days)
    if error:
        parser.error(error)
    dag = load_dag(args.dags_folder)
    failed = []
    for day in run_days(args.from_day, args.to_day, args.every):
        started = time.monotonic()
        logical_date = datetime(day.year, day.month, day.day, tzinfo=UTC)
        run = test_run(dag, logical_date)
        state = str(getattr(run.state, "value", run.state))
        print(f"[replica-ledger] {day} {state} in {time.monotonic() - started:.1f}s", flush=True)
        if state != "success":
            failed.append(day)
    if failed:
        print(f"[replica-ledger] failed days: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

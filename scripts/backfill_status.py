"""Wait for a backfill of replica_ledger_daily to finish and check every day succeeded.

Reads the Airflow metadata DB (same AIRFLOW_HOME as the backfill). Exit 0 when there is
one successful backfill run per snapshot day FROM..TO, 1 otherwise. On Airflow 3 it can
then wait for the scheduler to close the backfill record and pause the DAG, in the same
process (each Python process importing Airflow costs seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta

FINISHED = {"success", "failed"}


def wait_for_api(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"api-server did not answer at {url} within {timeout:.0f}s")


def wait_for_backfills_closed(dag_id: str, timeout: float) -> None:
    """Airflow 3: wait until every backfill of the DAG is marked complete.

    An open record makes the next `airflow backfill create` for the DAG fail with
    AlreadyRunningBackfill: so the script waits after a backfill (and before one, for a
    backfill left open by an interrupted run, whose runs the scheduler finishes first).
    """
    deadline = time.monotonic() + timeout
    while True:
        close_finished_backfills(dag_id)
        open_ids = open_backfills(dag_id)
        if not open_ids:
            return
        if time.monotonic() >= deadline:
            raise SystemExit(
                f"backfill(s) {open_ids} of {dag_id} still open after {timeout:.0f}s: some of their runs are "
                "still queued or running (see `airflow backfill list` / the UI)"
            )
        time.sleep(1)


def close_finished_backfills(dag_id: str) -> None:
    """Mark the DAG's finished backfills complete now, by the scheduler's own rule.

    Airflow 3's scheduler does it on a fixed 30 s timer (SchedulerJobRunner.
    _mark_backfills_complete): a backfill with at least one run, none of them queued or
    running, is complete. Applying that rule as soon as the runs are done ends a call up to
    30 s sooner. One UPDATE statement: on SQLite it waits for a running scheduler's write
    lock (a read, then a write in the same transaction would fail at once instead).
    """
    from airflow.models.backfill import Backfill, BackfillDagRun
    from airflow.models.dagrun import DagRun
    from airflow.utils import timezone
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import exists, select, update

    has_runs = exists(select(BackfillDagRun.id).where(BackfillDagRun.backfill_id == Backfill.id))
    unfinished = exists(
        select(DagRun.id).where(
            DagRun.backfill_id == Backfill.id, DagRun.state.in_((DagRunState.RUNNING, DagRunState.QUEUED))
        )
    )
    statement = (
        update(Backfill)
        .where(Backfill.dag_id == dag_id, Backfill.completed_at.is_(None), has_runs, ~unfinished)
        .values(completed_at=timezone.utcnow())
        .execution_options(synchronize_session=False)
    )
    with create_session() as session:
        session.execute(statement)


def open_backfills(dag_id: str) -> list[int]:
    """Airflow 3: ids of the DAG's backfills the scheduler has not marked complete."""
    from airflow.models.backfill import Backfill
    from airflow.utils.session import create_session

    with create_session() as session:
        query = session.query(Backfill.id).filter(Backfill.dag_id == dag_id, Backfill.completed_at.is_(None))
        return [row.id for row in query]


def pause(dag_id: str) -> None:
    """What `airflow dags pause` does, as one UPDATE statement.

    One statement, not a read then a write in one transaction: on SQLite that waits for a
    running scheduler's write lock instead of failing at once with "database is locked".
    """
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=True))


def step(message: str) -> None:
    """A step line as scripts/backfill.sh prints them: seconds since $BACKFILL_STARTED."""
    started = os.environ.get("BACKFILL_STARTED")
    elapsed = f" (+{int(time.time()) - int(started)}s)" if started else ""
    print(f"== {message}{elapsed}", flush=True)


def report_runs(dag_id: str, first: date, last: date, wait: float) -> int:
    """Wait up to `wait` seconds for one finished backfill run per day; 0 if all succeeded."""
    expected = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    deadline = time.monotonic() + wait
    while True:
        states = backfill_runs(dag_id, first, last)
        done = set(states) >= expected and all(states[day] in FINISHED for day in expected)
        if done or time.monotonic() >= deadline:
            break
        time.sleep(1)
    failed = sorted(day for day in expected if states.get(day) != "success")
    extra = sorted(set(states) - expected)
    for day in sorted(expected):
        print(f"[replica-ledger] backfill {day}: {states.get(day, 'not created')}")
    if extra:
        print(f"[replica-ledger] unexpected runs outside {first}..{last}: {extra}", file=sys.stderr)
    return 1 if failed or extra else 0


def backfill_runs(dag_id: str, first: date, last: date) -> dict[date, str]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from replica_ledger.airflow.compat import BACKFILL_RUN_TYPE, dag_run_logical_date_column

    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(hours=23)
    column = dag_run_logical_date_column()
    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == dag_id, column >= start, column <= end).all()
        return {
            (run.logical_date or run.run_after).date(): str(getattr(run.state, "value", run.state))
            for run in runs
            if str(getattr(run.run_type, "value", run.run_type)) == BACKFILL_RUN_TYPE
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dag_id", nargs="?")
    parser.add_argument("first", nargs="?", type=date.fromisoformat)
    parser.add_argument("last", nargs="?", type=date.fromisoformat)
    parser.add_argument("--wait", type=float, default=0, help="seconds to wait for the runs to finish")
    parser.add_argument("--wait-for-api", metavar="URL")
    parser.add_argument("--wait-backfills-closed", metavar="SECONDS", type=float)
    parser.add_argument("--pause", action="store_true", help="pause the DAG at the end")
    args = parser.parse_args()
    if args.wait_for_api:
        wait_for_api(args.wait_for_api)
        return 0
    status = 0
    if args.first:
        status = report_runs(args.dag_id, args.first, args.last or args.first, args.wait)
    if args.wait_backfills_closed is not None:
        # Also after a failed day: its run is finished, so the scheduler closes the record.
        step("runs finished; closing the backfill" if args.first else "waiting for the open backfill to finish")
        wait_for_backfills_closed(args.dag_id, args.wait_backfills_closed)
    if args.pause:
        pause(args.dag_id)
    return status


if __name__ == "__main__":
    raise SystemExit(main())

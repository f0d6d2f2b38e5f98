"""A local backfill through the repo's real command, split into Airflow overhead and dbt time.

    python -m bench.bench_backfill --airflow 3 --days 5          # the default of `make bench`
    python -m bench.bench_backfill --airflow 2 --days 30 --apis 500

Runs `make backfill FROM=.. TO=.. AIRFLOW=N` (scripts/backfill.sh: `airflow dags backfill`
on 2.11, `airflow backfill create` with a scheduler, dag-processor and api-server on 3.x)
over a synthetic fleet, in a throw-away AIRFLOW_HOME and REPLICA_LEDGER_LOCAL_DIR with a
free api-server port, as tests/dags/test_backfill.py does. The range ends on a month end,
so the last day also closes the month (billing) and generates the docs.

Where the time goes:
- dbt: every dbt command's own duration (parse + run), from dbt's log (DBT_LOG_PATH, one
  "Command `cli build` succeeded ... after X seconds" line per invocation);
- tasks: task_instance start/end in the Airflow metadata DB, per task id;
- Airflow overhead: the wall time of `make backfill` minus dbt time. It holds the DB
  migration, service start-up (3.x), scheduling, task process start-up, the load step and
  the Python glue. Airflow's per-task floor is measured on `billing.route_billing`, a
  branch that only looks at the date: its duration plus the median gap between one task's
  end and the next one's start in the same run.

- steps: the second at which scripts/backfill.sh printed each step ("== ... (+Ns)"): on 3.x
  the DB migration, serialization and `backfill create`, the services' start-up, the runs,
  and closing the backfill record.

Targets: backfill <= 2 x (days x (per-day dbt time + tasks per day x per-task floor)); and
on Airflow 3 a 30-day backfill within AIRFLOW3_30_DAYS_TARGET_S (a shorter run is
extrapolated: start-up + 30 x its per-day time).

With --late-file, the same backfill with one late file: one cluster's file of a day
LATE_FILE_DAYS_BACK before the middle of the range is held back, and copied in once the
middle day's run has started. The next run loads it and rebuilds from its day
(raw.record.run_window), the runs after it only their own day; the row says which run healed
it and how many days it rebuilt.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tooling.synthetic_fleet import FleetSpec, generate

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "bench" / "out"
LAST_DAY = date(2026, 1, 31)  # a month end: the last run closes January
FLOOR_TASK = "billing.route_billing"
DBT_COMMAND = re.compile(r"Command `cli ([a-z ]+)` (?:succeeded|failed) at \S+ after ([0-9.]+) seconds")
STEP = re.compile(r"^== (.+) \(\+(\d+)s\)$", re.MULTILINE)
AIRFLOW3_30_DAYS_TARGET_S = 400
# The late file's day: this many days (at most half the range) before the day whose run is
# under way when it lands.
LATE_FILE_DAYS_BACK = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(local: Path, fleet: Path, airflow: int) -> dict[str, str]:
    prefixes = ("REPLICA_LEDGER_", "AIRFLOW__", "AIRFLOW_HOME", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "DBT_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env.update(
        AIRFLOW_HOME=str(local / f"airflow{airflow}"),
        AIRFLOW_API_PORT=str(free_port()),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        REPLICA_LEDGER_LOCAL_DIR=str(local),
        REPLICA_LEDGER_ARCHIVE_DIR=str(fleet / "archive"),
        REPLICA_LEDGER_PED_CHANGES=str(fleet / "ped_limit_changes.jsonl"),
        REPLICA_LEDGER_RETRIES="0",
        # dbt's target and logs in the throw-away folder: a test suite using dbt_project/target
        # at the same time is left alone, and the log is ours to read.
        DBT_TARGET_PATH=str(local / "dbt_target"),
        DBT_LOG_PATH=str(local / "dbt_logs"),
        # Each command's duration is a debug line of dbt.log (the runs write info by default).
        DBT_LOG_LEVEL_FILE="debug",
        PATH=f"{REPO_ROOT / '.venv' / f'af{airflow}' / 'bin'}:{os.environ['PATH']}",
        PYTHONUNBUFFERED="1",
    )
    return env


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def task_instances(airflow_db: Path) -> list[dict]:
    with sqlite3.connect(airflow_db) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute(
            "select run_id, task_id, state, start_date, end_date from task_instance "
            "where dag_id = 'replica_ledger_daily'"
        ).fetchall()
    return [{**dict(row), "start": _parse_time(row["start_date"]), "end": _parse_time(row["end_date"])} for row in rows]


def dbt_commands(log_dir: Path) -> list[tuple[str, float]]:
    commands = []
    for log in sorted(log_dir.glob("dbt.log*")):
        commands += [(m.group(1), float(m.group(2))) for m in DBT_COMMAND.finditer(log.read_text(errors="replace"))]
    return commands


def backfill_steps(log_text: str) -> list[tuple[str, int]]:
    """The steps scripts/backfill.sh printed, each with its second since the script started."""
    return [(name, int(seconds)) for name, seconds in STEP.findall(log_text)]


def thirty_days_s(result: dict) -> float:
    """The run's wall time, or for a shorter run what 30 days of it take: start-up, 29 days
    at its per-day time before the month end, and its month-end run once.

    The range ends on a month end, whose run also closes the month and writes the docs; a
    30-day backfill has that run once, not once per five days.
    """
    if result["days"] == 30:
        return result["wall_s"]
    return result["startup_s"] + 29 * result["per_day_before_month_end_s"] + result["month_end_s"]


def run_starts(tasks: list[dict]) -> list[datetime]:
    """When each run's first task started, in order."""
    firsts: dict[str, datetime] = {}
    for task in tasks:
        if task["start"] and (task["run_id"] not in firsts or task["start"] < firsts[task["run_id"]]):
            firsts[task["run_id"]] = task["start"]
    return sorted(firsts.values())


def task_gaps(tasks: list[dict]) -> list[float]:
    """Seconds between a task's end and the next task's start, within each run."""
    gaps = []
    by_run: dict[str, list[dict]] = {}
    for task in tasks:
        if task["start"] and task["end"]:
            by_run.setdefault(task["run_id"], []).append(task)
    for run_tasks in by_run.values():
        run_tasks.sort(key=lambda task: task["start"])
        for previous, current in itertools.pairwise(run_tasks):
            gap = (current["start"] - previous["end"]).total_seconds()
            if gap >= 0:
                gaps.append(gap)
    return gaps


def summarize(
    wall_s: float, started_at: datetime, days: int, tasks: list[dict], commands: list[tuple[str, float]]
) -> dict:
    # Skipped tasks never start a process; only the ones that ran cost time.
    ran = [task for task in tasks if task["start"] and task["end"] and task["state"] == "success"]
    # Fixed cost before the first task: DB migration, pool, and on 3.x the three services.
    startup_s = (min(task["start"] for task in ran) - started_at).total_seconds() if ran else 0.0
    by_task: dict[str, list[float]] = {}
    for task in ran:
        by_task.setdefault(task["task_id"], []).append((task["end"] - task["start"]).total_seconds())
    dbt_s = sum(seconds for _, seconds in commands)
    builds = [seconds for name, seconds in commands if name == "build"]
    floor_task = statistics.median(by_task.get(FLOOR_TASK, [0.0]))
    gaps = task_gaps(ran)
    floor_s = floor_task + (statistics.median(gaps) if gaps else 0.0)
    tasks_per_day = len(ran) / days
    per_day_dbt = statistics.median(builds[:days]) if builds else 0.0
    # From the first run's start to the month-end run's start: the days before the month end.
    starts = run_starts(ran)
    before_month_end = len(starts) - 1
    per_day_before_month_end = (
        (starts[-1] - starts[0]).total_seconds() / before_month_end if before_month_end else wall_s - startup_s
    )
    month_end_s = wall_s - startup_s - before_month_end * per_day_before_month_end
    target_s = 2 * days * (per_day_dbt + tasks_per_day * floor_s)
    return {
        "days": days,
        "wall_s": wall_s,
        "dbt_s": dbt_s,
        "dbt_commands": len(commands),
        "airflow_overhead_s": wall_s - dbt_s,
        "startup_s": startup_s,
        "per_day_before_month_end_s": per_day_before_month_end,
        "month_end_s": month_end_s,
        "task_seconds": {task: round(sum(times), 2) for task, times in sorted(by_task.items())},
        "tasks_run": len(ran),
        "tasks_per_day": tasks_per_day,
        "per_day_dbt_build_s": per_day_dbt,
        "per_task_floor_s": floor_s,
        "floor_task_s": floor_task,
        "median_gap_s": statistics.median(gaps) if gaps else None,
        "target_s": target_s,
    }


def run_backfill(
    airflow: int, days: int, apis: int, keep: Path | None = None, attempts: int = 2, late_file: bool = False
) -> dict:
    """The backfill in a fresh folder; a failed attempt is retried from scratch and reported."""
    failures = []
    for _ in range(attempts):
        with tempfile.TemporaryDirectory(prefix=f"bench-backfill-af{airflow}-", dir=OUT_DIR) as tmp:
            result, error = attempt_backfill(airflow, days, apis, keep or Path(tmp), late_file)
        if result is not None:
            return {**result, "failed_attempts": failures}
        failures.append(error)
        print(f"  backfill attempt failed, retrying from scratch:\n{error[-1500:]}", file=sys.stderr)
    raise SystemExit(f"backfill failed {attempts} times:\n" + "\n---\n".join(failures))


def hold_back_a_file(archive: Path, day: date) -> tuple[Path, bytes]:
    """Remove one cluster's snapshot of `day`; its bytes."""
    folder = archive / f"dt={day}"
    path = sorted(p for p in folder.iterdir() if not p.name.endswith(".meta.json"))[0]
    content = path.read_bytes()
    path.unlink()
    return path, content


def started_days(airflow_db: Path) -> list[str]:
    """The snapshot days (YYYY-MM-DD) of the runs the backfill has started so far."""
    column = "logical_date" if "logical_date" in _dag_run_columns(airflow_db) else "execution_date"
    try:
        with sqlite3.connect(f"file:{airflow_db}?mode=ro", uri=True, timeout=1) as con:
            rows = con.execute(f"select {column} from dag_run where start_date is not null").fetchall()
    except sqlite3.Error:
        return []
    return [str(day)[:10] for (day,) in rows]


def _dag_run_columns(airflow_db: Path) -> set[str]:
    try:
        with sqlite3.connect(f"file:{airflow_db}?mode=ro", uri=True, timeout=1) as con:
            return {row[1] for row in con.execute("pragma table_info(dag_run)")}
    except sqlite3.Error:
        return set()


def healed_by(warehouse: Path, late_day: date) -> dict:
    """Which run loaded the late file again, and the days each run rebuilt (its run window)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select snapshot_date, run_window from raw.day_loads order by 1").fetchall()
    windows = {day.isoformat(): json.loads(window) for day, window in rows if window}
    healer = [day for day, window in windows.items() if late_day.isoformat() in window["reloaded"]]
    rebuilt = {day: (date.fromisoformat(day) - date.fromisoformat(w["start"])).days + 1 for day, w in windows.items()}
    return {
        "late_day": late_day.isoformat(),
        "healed_by": healer,
        "days_rebuilt_by_healer": [rebuilt[day] for day in healer],
        "days_rebuilt": sum(rebuilt.values()),
    }


def attempt_backfill(
    airflow: int, days: int, apis: int, local: Path, late_file: bool = False
) -> tuple[dict | None, str]:
    first = LAST_DAY - timedelta(days=days - 1)
    middle = first + timedelta(days=days // 2)
    late_day = middle - timedelta(days=min(LATE_FILE_DAYS_BACK, days // 2))
    fleet = local / "fleet"
    generate(FleetSpec(apis=apis, days=days, start=first), fleet)
    held = hold_back_a_file(fleet / "archive", late_day) if late_file else None
    env = environment(local, fleet, airflow)
    command = ["make", "--no-print-directory", "backfill", f"FROM={first}", f"TO={LAST_DAY}", f"AIRFLOW={airflow}"]
    print(f"  {' '.join(command)} ({apis} APIs{', one late file' if late_file else ''})", file=sys.stderr)
    started, started_at = time.perf_counter(), datetime.now(UTC)
    with (local / "backfill.log").open("w") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        airflow_db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
        while held is not None and process.poll() is None:
            if middle.isoformat() in started_days(airflow_db):
                held[0].write_bytes(held[1])  # the late file lands while the middle day runs
                print(f"  late file {held[0].name} of {held[0].parent.name} copied in", file=sys.stderr)
                held = None
            time.sleep(0.5)
        returncode = process.wait()
    wall_s = time.perf_counter() - started
    if returncode != 0:
        # Keep the cause (e.g. SQLite "database is locked" in `airflow backfill create`).
        log_text = (local / "backfill.log").read_text(errors="replace")
        cause = [line for line in log_text.splitlines() if "Error" in line or "error" in line][-3:]
        return None, f"exit {returncode} after {wall_s:.0f} s: " + " | ".join(cause)
    tasks = task_instances(Path(env["AIRFLOW_HOME"]) / "airflow.db")
    result = summarize(wall_s, started_at, days, tasks, dbt_commands(local / "dbt_logs"))
    result["steps"] = backfill_steps((local / "backfill.log").read_text(errors="replace"))
    if late_file:
        result["late_file"] = healed_by(local / "warehouse.duckdb", late_day)
    if airflow == 3:
        result["target_30d_s"] = AIRFLOW3_30_DAYS_TARGET_S
    return {"airflow": airflow, "apis": apis, "from": first.isoformat(), "to": LAST_DAY.isoformat(), **result}, ""


def report_name(airflow: int, days: int, late_file: bool = False) -> str:
    return f"bench_backfill_af{airflow}_{days}d{'_late_file' if late_file else ''}.json"


def headline(result: dict) -> str:
    """The figure against its target, e.g. "a 30-day backfill on Airflow 3: 380 s (target <= 400 s)"."""
    seconds = thirty_days_s(result)
    measured = "" if result["days"] == 30 else f" (extrapolated from {result['days']} days: {result['wall_s']:.0f} s)"
    target = result.get("target_30d_s", 30 * result["target_s"] / result["days"])
    verdict = "met" if seconds <= target else "MISSED"
    figure = f"a 30-day backfill on Airflow {result['airflow']}: {seconds:.0f} s{measured}"
    return f"{figure}, target <= {target:.0f} s: {verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow", type=int, choices=(2, 3), action="append")
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--apis", type=int, default=500)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (debugging)")
    parser.add_argument("--late-file", action="store_true", help="one file lands late, in the middle of the range")
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    results = [
        run_backfill(airflow, args.days, args.apis, args.keep, late_file=args.late_file)
        for airflow in args.airflow or (2, 3)
    ]
    for result in results:
        name = report_name(result["airflow"], result["days"], args.late_file)
        (OUT_DIR / name).write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({key: value for key, value in result.items() if key != "task_seconds"}))
        print(headline(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

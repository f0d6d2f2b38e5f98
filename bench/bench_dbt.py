"""dbt on DuckDB at scale: one incremental day with its lookback window, and a full rebuild
of a year, for 2,000 APIs.

    python -m bench.bench_dbt                 # both, median of 3 (the year: --year-runs, default 3)
    python -m bench.bench_dbt --only day --apis 500

One day goes the real way: the synthetic fleet's archive files -> pipeline.load_day ->
pipeline.build_day, each step in a fresh Python process as an Airflow task runs it (so
imports count), over a warehouse that already holds the previous days (history loaded
with load_day, facts built once with a full refresh). The day's run is a current-day run:
REPLICA_LEDGER_LOOKBACK_DAYS = 7 (the default), so load_day checks the 7 days before it
against their load records (unchanged: only the day is loaded) and build_day rebuilds the
per-day facts of all 8 days of the window [D - 7, D], as the DAG does every night.

The year skips the archive: 365 x 2,000 APIs would be ~1.5 M objects to write and parse,
which measures the JSON parser, not dbt. The fleet's raw rows (synthetic_fleet.raw_rows,
tested equal to what load_day reads from its files) go straight into the raw tables, then
`dbt build --full-refresh` with no snapshot_date (dbt_project.yml: null = every day) and
no billing_month (every closed month) rebuilds every model and runs every data test.

dbt writes to its own target/log folders under bench/out (DBT_TARGET_PATH), so a test
suite running at the same time in dbt_project/target is not disturbed; the first build
of each series is a warm-up that fills dbt's partial parse cache, as the DAG's would be.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from replica_ledger import changelog
from replica_ledger.warehouse import duckdb as warehouse
from tooling.synthetic_fleet import FleetSpec, change_rows, generate, iter_raw_days, plans

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "bench" / "out"
START = date(2025, 1, 1)
DAY_TARGET_S, YEAR_TARGET_S = 6.0, 60.0
# The day's run window (contract §5 "Late data"): Settings.lookback_days' default.
LOOKBACK_DAYS = 7

# Runs in a child process: one pipeline step for one day, timed from inside too.
STEP = r"""
import json, sys, time
started = time.perf_counter()
from datetime import date
from replica_ledger import pipeline
from replica_ledger.settings import load_settings
step, day = sys.argv[1], date.fromisoformat(sys.argv[2])
imported = time.perf_counter()
getattr(pipeline, step)(load_settings(), day)
print(json.dumps({"import_s": imported - started, "step_s": time.perf_counter() - imported}))
"""

# Runs in a child process: a full-refresh build of everything over every day.
FULL_BUILD = r"""
import json, sys, time
started = time.perf_counter()
from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.settings import load_settings
imported = time.perf_counter()
settings = load_settings()
run_dbt(settings, ["build", "--full-refresh", "--exclude-resource-type", "unit_test", "--vars", build_vars(settings)])
print(json.dumps({"import_s": imported - started, "step_s": time.perf_counter() - imported}))
"""


def environment(
    work: Path, fleet: Path | None, lookback_days: int = LOOKBACK_DAYS, daily_tests: bool = True
) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("REPLICA_LEDGER_")}
    env.update(
        REPLICA_LEDGER_LOCAL_DIR=str(work),
        REPLICA_LEDGER_DUCKDB=str(work / "warehouse.duckdb"),
        DBT_TARGET_PATH=str(work / "dbt_target"),
        DBT_LOG_PATH=str(work / "dbt_logs"),
        PYTHONPATH=str(REPO_ROOT / "include"),
        REPLICA_LEDGER_LOOKBACK_DAYS=str(lookback_days),
        REPLICA_LEDGER_DBT_DAILY_TESTS=str(daily_tests).lower(),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
    )
    if fleet is not None:
        env.update(
            REPLICA_LEDGER_ARCHIVE_DIR=str(fleet / "archive"),
            REPLICA_LEDGER_PED_CHANGES=str(fleet / "ped_limit_changes.jsonl"),
        )
    return env


def run_child(code: str, args: list[str], env: dict[str, str]) -> dict:
    """Wall time of a fresh interpreter running `code`, plus what it measured inside."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False)
    wall_s = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return {"wall_s": wall_s, **json.loads(done.stdout.strip().splitlines()[-1])}


def dbt_timings(env: dict[str, str]) -> dict:
    """dbt's own view of the last run: total elapsed and time spent executing nodes."""
    results = json.loads((Path(env["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    node_s = sum(result.get("execution_time") or 0 for result in results["results"])
    slowest = sorted(results["results"], key=lambda result: -(result.get("execution_time") or 0))[:5]
    by_kind: dict[str, float] = {}  # where the time goes: models, seeds, data tests
    for result in results["results"]:
        kind = result["unique_id"].split(".")[0]
        by_kind[kind] = by_kind.get(kind, 0.0) + (result.get("execution_time") or 0)
    return {
        "dbt_elapsed_s": results["elapsed_time"],
        "dbt_nodes_s": node_s,
        "dbt_nodes_s_by_kind": {kind: round(seconds, 2) for kind, seconds in sorted(by_kind.items())},
        "nodes": len(results["results"]),
        "slowest": [(result["unique_id"].split(".")[-1], round(result["execution_time"], 2)) for result in slowest],
    }


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


# --------------------------------------------------------------------------- one day


def bench_day(
    apis: int, history_days: int, runs: int, work: Path, lookback_days: int = LOOKBACK_DAYS, daily_tests: bool = True
) -> dict:
    fleet = work / "fleet"
    spec = FleetSpec(apis=apis, days=history_days + runs, start=START)
    generate(spec, fleet)
    env = environment(work, fleet, lookback_days, daily_tests)
    print(f"  day: loading {history_days} days of history ({apis} APIs)", file=sys.stderr)
    for offset in range(history_days):
        run_child(STEP, ["load_day", spec.day(offset).isoformat()], env)
    run_child(FULL_BUILD, [], env)  # facts of the history; fills the partial parse cache
    loads, builds = [], []
    for number in range(runs):
        # Each run is the next day, as in production: a new day is what the DAG sees daily
        # (and what used to defeat dbt's partial parsing).
        day = spec.day(history_days + number).isoformat()
        loads.append(run_child(STEP, ["load_day", day], env))
        builds.append({**run_child(STEP, ["build_day", day], env), **dbt_timings(env)})
        build = builds[-1]
        print(f"  day {day}: load {loads[-1]['wall_s']:.2f} s, build {build['wall_s']:.2f} s (dbt run "
              f"{build['dbt_elapsed_s']:.2f} s: nodes {build['dbt_nodes_s_by_kind']}; outside it, parse, "
              f"imports and the run summary {build['wall_s'] - build['dbt_elapsed_s']:.2f} s)",
              file=sys.stderr)  # fmt: skip
    return {
        "apis": apis,
        "history_days": history_days,
        "lookback_days": lookback_days,
        "daily_tests": daily_tests,
        "load": loads,
        "build": builds,
    }


# --------------------------------------------------------------------------- a year


def load_raw_year(spec: FleetSpec, duckdb_path: Path) -> dict:
    """The fleet's raw rows for every day into the raw tables, a month per insert."""
    started = time.perf_counter()
    counts = dict.fromkeys(warehouse.DAY_TABLES, 0)
    lines = [json.dumps(row, sort_keys=True) for row in change_rows(spec, plans(spec))]
    with warehouse.connect(duckdb_path) as con:
        warehouse.ensure_raw_schema(con)
        batch: dict[str, list[dict]] = {table: [] for table in counts}
        for day, rows in iter_raw_days(spec):
            for table, table_rows in rows.items():
                batch[table] += table_rows
            if (day.day == 1 and day != spec.start) or day == spec.day(spec.days - 1):
                for table, table_rows in batch.items():
                    counts[table] += warehouse.insert_rows(con, table, table_rows)
                    table_rows.clear()
        changes = [changelog.change_row(number, line) for number, line in enumerate(lines, start=1)]
        counts["ped_limit_changes"] = warehouse.replace_change_log(con, changes)
    return {"load_s": time.perf_counter() - started, "rows": counts}


def bench_year(apis: int, days: int, runs: int, work: Path) -> dict:
    spec = FleetSpec(apis=apis, days=days, start=START)
    env = environment(work, None)
    print(f"  year: raw rows for {days} days x {apis} APIs", file=sys.stderr)
    loaded = load_raw_year(spec, Path(env["REPLICA_LEDGER_DUCKDB"]))
    builds = []
    for number in range(runs + 1):
        build = {**run_child(FULL_BUILD, [], env), **dbt_timings(env)}
        print(f"  year build {number} ({'warm-up' if number == 0 else 'counted'}): {build['wall_s']:.2f} s",
              file=sys.stderr)  # fmt: skip
        builds.append(build)
    write_table_stats(Path(env["REPLICA_LEDGER_DUCKDB"]), apis, days)
    return {"apis": apis, "days": days, **loaded, "warmup": builds[0], "build": builds[1:]}


def write_table_stats(duckdb_path: Path, apis: int, days: int) -> None:
    """Rows and average BigQuery bytes per column of the year's tables, for bench_bigquery."""
    stats = {"apis": apis, "days": days, "tables": {}}
    with warehouse.connect(duckdb_path, read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            rows = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            stats["tables"][table] = {
                "schema": schema,
                "rows": rows,
                "columns": column_stats(con, schema, table, columns),
            }
    (OUT_DIR / "table_stats.json").write_text(json.dumps(stats, indent=2) + "\n")


def column_stats(con, schema: str, table: str, columns: list[tuple[str, str]]) -> dict:
    """Per column: its type, and the average of BigQuery's size (strings: 2 + UTF-8 bytes; null: 0)."""
    result = {}
    for name, data_type in columns:
        if data_type == "VARCHAR":
            size = f'avg(coalesce(2 + octet_length(cast("{name}" as blob)), 0))'
        elif data_type == "BOOLEAN":
            size = f'avg(case when "{name}" is null then 0 else 1 end)'
        else:
            size = f'avg(case when "{name}" is null then 0 else 8 end)'
        average = con.execute(f'select coalesce({size}, 0) from "{schema}"."{table}"').fetchone()[0]
        result[name] = {"type": data_type, "avg_bytes": round(float(average), 2)}
    return result


# --------------------------------------------------------------------------- report


def rows(day: dict | None, year: dict | None) -> list[dict]:
    """Table rows: what, measured value, target, verdict, note."""
    table = []
    if day:
        load, build = median_of(day["load"], "wall_s"), median_of(day["build"], "wall_s")
        dbt_s = median_of(day["build"], "dbt_elapsed_s")
        note = f"median of {len(day['build'])}; fresh process each; dbt itself {dbt_s:.1f} s"
        table.append(dict(what=f"load_day, 1 day x {day['apis']:,} APIs", value=load, unit="s", target=None, note=note))
        table.append(
            dict(what=f"build_day (dbt build{'' if day['daily_tests'] else ', no data tests'}), 1 day + "
                      f"{day['lookback_days']}-day lookback x {day['apis']:,} APIs",
                 value=build, unit="s", target=DAY_TARGET_S, note=note)
        )  # fmt: skip
    if year:
        build = median_of(year["build"], "wall_s")
        dbt_s = median_of(year["build"], "dbt_elapsed_s")
        note = f"median of {len(year['build'])} after a warm-up; dbt itself {dbt_s:.1f} s"
        table.append(
            dict(what=f"raw rows into DuckDB, {year['days']} days x {year['apis']:,} APIs", value=year["load_s"],
                 unit="s", target=None, note=f"{year['rows']['k8s_deployments']:,} deployment rows, 1 run")
        )  # fmt: skip
        table.append(
            dict(what=f"dbt build --full-refresh, {year['days']} days x {year['apis']:,} APIs", value=build,
                 unit="s", target=YEAR_TARGET_S, note=note)
        )  # fmt: skip
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("day", "year"))
    parser.add_argument("--apis", type=int, default=2000)
    parser.add_argument("--history-days", type=int, default=7)
    parser.add_argument("--year-days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lookback-days", type=int, default=LOOKBACK_DAYS, help="the day's window (0: the day)")
    parser.add_argument(
        "--no-daily-tests", action="store_true", help="REPLICA_LEDGER_DBT_DAILY_TESTS=false: models only"
    )
    parser.add_argument("--year-runs", type=int, default=3)
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    result: dict = {"cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-dbt-", dir=OUT_DIR) as tmp:
        if args.only in (None, "day"):
            result["day"] = bench_day(
                args.apis, args.history_days, args.runs, Path(tmp) / "day", args.lookback_days, not args.no_daily_tests
            )
        if args.only in (None, "year"):
            result["year"] = bench_year(args.apis, args.year_days, args.year_runs, Path(tmp) / "year")
    result["rows"] = rows(result.get("day"), result.get("year"))
    (OUT_DIR / "bench_dbt.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    for row in result["rows"]:
        target = f"<= {row['target']:g} {row['unit']}" if row["target"] else ""
        print(f"{row['what']:<55} {row['value']:>8.2f} {row['unit']}  {target:<10} {row['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

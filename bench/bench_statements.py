"""The teams' monthly statements at scale: every team's statement of a month, 2,000 APIs.

    python -m bench.bench_statements [--apis 2000] [--runs 3]

The warehouse is built once the bench_dbt way (the synthetic fleet's raw rows for 33 days,
then `dbt build --full-refresh`, which closes the first month: fct_billing_statements and
the statement marts). Each run then writes that month's statements of every team into an
empty folder in a fresh Python process, as the close task does (`statements.write_statements`:
reading the marts, one chart per API, HTML, CSV and JSON per team), and reports its wall
time and its peak RSS (the writing process's ru_maxrss). Target: <= 30 s and <= 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench.bench_dbt import FULL_BUILD, OUT_DIR, environment, load_raw_year, run_child
from tooling.synthetic_fleet import FleetSpec

START = date(2025, 1, 1)
DAYS = 33  # January closes: its last day is before the last snapshot day
TARGET_S, TARGET_MB = 30.0, 500.0

WRITE = r"""
import json, resource, sys, time
started = time.perf_counter()
from datetime import date
from replica_ledger.settings import load_settings
from replica_ledger.statements import write_statements
imported = time.perf_counter()
written = write_statements(load_settings(), [date.fromisoformat(sys.argv[1])])
print(json.dumps({
    "import_s": imported - started,
    "step_s": time.perf_counter() - imported,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "versions": len(written),
    "written": sum(1 for item in written if item.status == "written"),
}))
"""


def bench(apis: int, runs: int, work: Path) -> dict:
    spec = FleetSpec(apis=apis, days=DAYS, start=START)
    env = environment(work, None, daily_tests=False)
    print(f"  statements: raw rows for {DAYS} days x {apis} APIs, then one full build", file=sys.stderr)
    load_raw_year(spec, Path(env["REPLICA_LEDGER_DUCKDB"]))
    run_child(FULL_BUILD, [], env)
    results = []
    for number in range(runs):
        folder = work / f"statements-{number}"
        result = run_child(WRITE, [START.isoformat()], {**env, "REPLICA_LEDGER_STATEMENTS_DIR": str(folder)})
        result["files"] = sum(1 for path in folder.rglob("*") if path.is_file())
        result["bytes"] = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        print(
            f"  run {number}: {result['wall_s']:.2f} s wall ({result['step_s']:.2f} s writing), "
            f"{result['peak_rss_mb']:.0f} MB peak, {result['written']} team statements",
            file=sys.stderr,
        )
        results.append(result)
    return {
        "apis": apis,
        "month": START.isoformat(),
        "runs": results,
        "wall_s": statistics.median(r["wall_s"] for r in results),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in results),
        "load_average": os.getloadavg(),
        "target_s": TARGET_S,
        "target_mb": TARGET_MB,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apis", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="build in this folder and keep it (profiling)")
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = bench(args.apis, args.runs, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-statements-", dir=OUT_DIR) as tmp:
            report = bench(args.apis, args.runs, Path(tmp))
    (OUT_DIR / "bench_statements.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({key: report[key] for key in ("apis", "wall_s", "peak_rss_mb", "load_average")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

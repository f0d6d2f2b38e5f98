"""`make demo` side by side: this checkout against a base commit, one after the other.

    python -m bench.bench_demo [--base 26617d6] [--rounds 1] [--airflow 3]

The base commit is checked out as a detached git worktree under bench/out/demo-base (the
same venvs, through a symlink; scripts/demo.sh puts each checkout's own include/ first on
PYTHONPATH), and each demo writes its own REPLICA_LEDGER_LOCAL_DIR. Rounds alternate base
and this checkout, so both see the same background load. Besides the wall times, the
report each demo prints (everything after its per-day lines, less the paths) must be the
same text: the figure is only worth having if the output did not change (the difference, if
any, is in the JSON and both reports are kept in bench/out/demo-report-*.txt).
Writes bench/out/bench_demo.json.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "bench" / "out"
BASE_COMMIT = "26617d6"
DBT_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d  ")


def base_checkout(commit: str) -> Path:
    """A detached worktree of `commit`, sharing this checkout's venvs."""
    path = OUT_DIR / "demo-base"
    if path.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO_ROOT, check=True)
    subprocess.run(["git", "worktree", "add", "--detach", str(path), commit], cwd=REPO_ROOT, check=True)
    (path / ".venv").symlink_to(REPO_ROOT / ".venv")
    return path


def run_demo(checkout: Path, airflow: int, local_dir: Path) -> tuple[float, str]:
    """One `scripts/demo.sh` from scratch; returns its wall time and its stdout."""
    subprocess.run(["rm", "-rf", str(local_dir)], check=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REPLICA_LEDGER_", "AIRFLOW", "PYTHONPATH", "VIRTUAL_ENV"))
    }
    env |= {"AIRFLOW": str(airflow), "REPLICA_LEDGER_LOCAL_DIR": str(local_dir), "AIRFLOW_HOME": str(local_dir / "af")}
    started = time.perf_counter()
    done = subprocess.run(
        ["bash", "scripts/demo.sh"], cwd=checkout, env=env, capture_output=True, text=True, timeout=3600, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"demo in {checkout} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def report_of(stdout: str, checkout: Path) -> str:
    """What the demo shows a person, without its timings, dbt's own log lines (a docs build) and its
    machine paths."""
    lines = [
        line
        for line in stdout.splitlines()
        if not line.startswith(("[replica-ledger]", "== ", "dbt docs written to")) and not DBT_LOG_LINE.match(line)
    ]
    text = "\n".join(lines)
    text = text.split("Where things are:")[0]
    return text.replace(str(checkout), "<repo>")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=BASE_COMMIT)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--airflow", type=int, choices=(2, 3), default=3)
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    base = base_checkout(args.base)
    times: dict[str, list[float]] = {"base": [], "this": []}
    reports: dict[str, str] = {}
    loads = []
    try:
        for _ in range(args.rounds):
            for name, checkout in (("base", base), ("this", REPO_ROOT)):
                seconds, stdout = run_demo(checkout, args.airflow, OUT_DIR / f"demo-local-{name}")
                times[name].append(seconds)
                reports[name] = report_of(stdout, checkout)
                (OUT_DIR / f"demo-report-{name}.txt").write_text(reports[name])
                loads.append(os.getloadavg()[0])
                print(f"demo {name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO_ROOT, check=False)
    result = {
        "base_commit": args.base,
        "airflow": args.airflow,
        "base_seconds": statistics.median(times["base"]),
        "this_seconds": statistics.median(times["this"]),
        "runs": times,
        "same_output": reports["base"] == reports["this"],
        "output_diff": list(
            difflib.unified_diff(reports["base"].splitlines(), reports["this"].splitlines(), lineterm="")
        ),
        "load_average_after_runs": loads,
    }
    result["ratio"] = result["this_seconds"] / result["base_seconds"]
    (OUT_DIR / "bench_demo.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Parse-time budget: how long importing each DAG file takes, on Airflow 2.11 and 3.x.

    python -m bench.bench_parse              # both venvs, 15 imports per file, median
    python -m bench.bench_parse --runs 5 --venv af3
    python -m bench.bench_parse --check      # exit 1 over budget or on any DB/network access

Each venv's own python (.venv/af2, .venv/af3) runs a child that imports Airflow once (the
DAG processor has it loaded already), then imports every DAG file of dags/ (as the DAG
processor lists them, .airflowignore applied) N times, each time fresh: the modules the
previous import pulled in (replica_ledger, providers, ...) are dropped first, as in a new
parsing process. Reported: median / min / max and the first (cold) import.

No DB, no network at parse time, checked, not assumed: the metadata DB is a SQLite file in
a folder that does not exist (any query fails), every SQLAlchemy pool connection is counted,
and socket connects (other than AF_UNIX) are refused and counted. Target: 0.3 s per file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "bench" / "out"
TARGET_S = 0.3
VENVS = ("af2", "af3")

# Runs inside the venv's python. Prints one JSON document on its last line.
CHILD = r"""
import importlib.util, json, socket, statistics, sys, time, traceback

runs, dags_folder = int(sys.argv[1]), sys.argv[2]
import airflow  # loaded in the DAG processor before any DAG file, with its DAG API
from replica_ledger.airflow.compat import parsing_module
parsing_module()  # the Task SDK on Airflow 3, airflow.models on 2.11: what the processor's child has loaded
from airflow.utils.file import list_py_file_paths

counts = {"db_connections": 0, "network_connects": []}
import sqlalchemy.event
from sqlalchemy.engine import Engine

@sqlalchemy.event.listens_for(Engine, "do_connect")
def _on_connect(*_):  # every attempt, before the driver tries (the SQLite path cannot open)
    counts["db_connections"] += 1

_connect = socket.socket.connect
def _guarded_connect(self, address):
    if self.family != socket.AF_UNIX:
        counts["network_connects"].append(repr(address))
        raise OSError(f"bench_parse: network access at parse time: {address!r}")
    return _connect(self, address)
socket.socket.connect = _guarded_connect

files = sorted(str(p) for p in list_py_file_paths(dags_folder))
baseline = set(sys.modules)
results = []
for index, path in enumerate(files):
    times, dag_ids, error = [], set(), None
    for run in range(runs):
        # Fresh: drop what the last import pulled in. Airflow core stays (the processor has
        # it, and its ORM tables cannot be defined twice); providers and the rest go.
        for name in set(sys.modules) - baseline:
            if not name.startswith("airflow.") or name.startswith("airflow.providers."):
                del sys.modules[name]
        name = f"bench_dag_{index}_{run}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        started = time.perf_counter()
        try:
            spec.loader.exec_module(module)
        except BaseException:
            error = traceback.format_exc(limit=6)
            break
        times.append(time.perf_counter() - started)
        dag_ids |= {
            getattr(v, "dag_id") for v in vars(module).values()
            if type(v).__name__ == "DAG" and hasattr(v, "dag_id")
        }
    results.append({
        "file": path, "dag_ids": sorted(dag_ids), "error": error, "runs": len(times),
        "cold_s": times[0] if times else None,
        "median_s": statistics.median(times) if times else None,
        "min_s": min(times) if times else None, "max_s": max(times) if times else None,
    })
print(json.dumps({"airflow": airflow.__version__, "files": results, **counts}))
"""


def measure(venv: str, runs: int, dags_folder: Path = REPO_ROOT / "dags") -> dict:
    python = REPO_ROOT / ".venv" / venv / "bin" / "python"
    if not python.exists():
        return {"venv": venv, "skipped": f"{python} not found (make venvs)"}
    with tempfile.TemporaryDirectory(prefix="bench_parse_") as home:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW", "REPLICA_LEDGER_")) and key not in ("PYTHONPATH",)
        }
        env.update(
            AIRFLOW_HOME=home,
            # Unopenable on purpose: a DAG file that touches the metadata DB fails to import.
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/no-such-dir/airflow.db",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__UNIT_TEST_MODE="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder),
            PYTHONPATH=str(REPO_ROOT / "include"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        done = subprocess.run(
            [str(python), "-c", CHILD, str(runs), str(dags_folder)],
            capture_output=True,
            text=True,
            env=env,
            cwd=home,
            timeout=1800,
        )
    if done.returncode != 0:
        return {"venv": venv, "error": done.stderr[-3000:]}
    return {"venv": venv, **json.loads(done.stdout.strip().splitlines()[-1])}


def report(results: list[dict]) -> list[str]:
    """Print the table; return the problems (over budget, errors, DB or network access)."""
    problems = []
    header = (
        f"{'airflow':<10} {'DAG file':<28} {'dags':>4} {'median s':>9} {'min s':>7} {'max s':>7} {'cold s':>7}  target"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        if "skipped" in result:
            print(f"{result['venv']:<10} skipped: {result['skipped']}")
            continue
        if "error" in result:
            problems.append(f"{result['venv']}: child failed:\n{result['error']}")
            print(f"{result['venv']:<10} FAILED (see below)")
            continue
        for row in result["files"]:
            name = Path(row["file"]).name
            if row["error"]:
                problems.append(f"{result['airflow']} {name}: import failed:\n{row['error']}")
                print(f"{result['airflow']:<10} {name:<28} import FAILED")
                continue
            verdict = "ok" if row["median_s"] <= TARGET_S else "OVER"
            if verdict == "OVER":
                problems.append(f"{result['airflow']} {name}: median {row['median_s']:.3f} s > {TARGET_S} s")
            print(
                f"{result['airflow']:<10} {name:<28} {len(row['dag_ids']):>4} {row['median_s']:>9.3f} "
                f"{row['min_s']:>7.3f} {row['max_s']:>7.3f} {row['cold_s']:>7.3f}  <= {TARGET_S} s {verdict}"
            )
        if result["db_connections"] or result["network_connects"]:
            problems.append(
                f"{result['airflow']}: parse time touched the DB ({result['db_connections']} connection attempts) "
                f"or the network ({result['network_connects']})"
            )
        print(
            f"{'':<10} DB connection attempts at parse time: {result['db_connections']}, "
            f"network connects: {len(result['network_connects'])}"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="imports per DAG file (median reported)")
    parser.add_argument("--venv", choices=VENVS, action="append", help="only this venv (repeatable)")
    parser.add_argument("--dags-folder", type=Path, default=REPO_ROOT / "dags", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help="exit 1 over budget or on DB/network access")
    args = parser.parse_args(argv)
    results = [measure(venv, args.runs, args.dags_folder.resolve()) for venv in (args.venv or VENVS)]
    problems = report(results)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "parse_times.json").write_text(json.dumps({"target_s": TARGET_S, "results": results}, indent=2))
    for problem in problems:
        print(f"\n! {problem}", file=sys.stderr)
    return 1 if problems and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())

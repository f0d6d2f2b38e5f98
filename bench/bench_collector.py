"""Benchmark of the snapshot collector: wall time and peak RSS against the fake API server.

    python -m bench.bench_collector           # 1k, 10k, 50k Deployments + as many HPAs, median of 3
    python -m bench.bench_collector --quick   # 1k and 10k, one run each

Each run is `python -m replica_ledger.collector` in a child process; its peak RSS comes
from os.wait4 (that child's own rusage, so the fake server in this process does not
count). The fake server (tooling/fake_kube_api.py) runs here on 127.0.0.1 and
prepares the next page while the collector digests the current one, as a real API server
serves from its cache.

Bytecode: the dev virtualenvs are installed with PYTHONDONTWRITEBYTECODE=1, so without
help every child would compile the ~1,000 modules of the Kubernetes client (~4 s). The
image compiles them at build time; to measure the same thing, children write bytecode to
bench/out/pycache (PYTHONPYCACHEPREFIX) and one warm-up run fills it. The virtualenv is
not touched.
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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tooling.fake_kube_api import FakeKubeApi

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "bench" / "out"
TARGET = "10k+10k objects <= 5 s and <= 150 MB RSS, flat in N"
TARGET_OBJECTS, TARGET_WALL_S, TARGET_RSS_MB = 10_000, 5.0, 150.0
FULL_SIZES, QUICK_SIZES = (1_000, 10_000, 50_000), (1_000, 10_000)


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    output_bytes: int


@dataclass(frozen=True)
class SizeResult:
    objects_per_resource: int
    runs: list[Run]

    @property
    def wall_s(self) -> float:
        return statistics.median(run.wall_s for run in self.runs)

    @property
    def cpu_s(self) -> float:
        return statistics.median(run.cpu_s for run in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return statistics.median(run.peak_rss_mb for run in self.runs)


def child_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("REPLICA_LEDGER_COLLECTOR_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(OUT_DIR / "pycache")
    return env


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak RSS in MB and exit status of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall_s = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode() if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{stderr}")
    # ru_maxrss is in KiB on Linux.
    return wall_s, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, child.returncode


def count_items(snapshot: Path) -> dict[str, int]:
    """Counts by kind without loading the file: the collector writes one item per line."""
    counts = {"Deployment": 0, "HorizontalPodAutoscaler": 0}
    with snapshot.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"apiVersion":"apps/v1","kind":"Deployment"'):
                counts["Deployment"] += 1
            elif line.startswith(b'{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler"'):
                counts["HorizontalPodAutoscaler"] += 1
    return counts


def run_collector(api: FakeKubeApi, workdir: Path, env: dict[str, str]) -> Run:
    kubeconfig = api.write_kubeconfig(workdir / "kubeconfig.yaml")
    output = Path(tempfile.mkdtemp(dir=workdir, prefix="archive-"))
    command = [
        sys.executable,
        "-m",
        "replica_ledger.collector",
        "--cluster",
        "bench",
        "--output",
        str(output),
    ]
    # The collector only accepts the day that ended last midnight UTC (its capture window).
    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    command += ["--kubeconfig", str(kubeconfig), "--date", day]
    wall_s, cpu_s, rss_mb, _ = measure(command, env)
    snapshot = output / f"dt={day}" / "bench.json"
    size = snapshot.stat().st_size
    counts = count_items(snapshot)
    snapshot.unlink()
    expected = api.object_counts
    if counts != {"Deployment": expected["deployments"], "HorizontalPodAutoscaler": expected["hpas"]}:
        raise SystemExit(f"wrong item counts {counts}, expected {expected}")
    return Run(round(wall_s, 3), round(cpu_s, 3), round(rss_mb, 1), size)


def bench_size(objects: int, runs: int, workdir: Path, env: dict[str, str]) -> SizeResult:
    with FakeKubeApi(deployments=objects, hpas=objects) as api:
        results = []
        for _ in range(runs):
            results.append(run_collector(api, workdir, env))
            print(f"  {objects:>6} + {objects:<6} run {len(results)}: {results[-1]}", file=sys.stderr)
    return SizeResult(objects, results)


def import_baseline(env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and RSS of just starting Python and importing the Kubernetes client."""
    wall_s, _, rss_mb, _ = measure([sys.executable, "-c", "import replica_ledger.collector.kube"], env)
    return wall_s, rss_mb


def print_table(results: list[SizeResult], baseline: tuple[float, float], runs: int) -> None:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    print(f"\ncollector benchmark: {cores} cores ({usable} usable), Python {sys.version.split()[0]}, ", end="")
    print(f"median of {runs} run(s)")
    print(f"target: {TARGET}")
    print(f"baseline (start Python + import the client): {baseline[0]:.2f} s, {baseline[1]:.0f} MB RSS\n")
    columns = ("deployments + HPAs", 20), ("wall s", 7), ("cpu s", 6), ("peak RSS MB", 11), ("output MB", 9)
    header = " | ".join(f"{title:>{width}}" for title, width in columns) + " | target"
    print(header)
    print("-" * len(header))
    for result in results:
        verdict = ""
        if result.objects_per_resource == TARGET_OBJECTS:
            ok = result.wall_s <= TARGET_WALL_S and result.peak_rss_mb <= TARGET_RSS_MB
            verdict = f"<= {TARGET_WALL_S:g} s, <= {TARGET_RSS_MB:g} MB: {'PASS' if ok else 'FAIL'}"
        n = result.objects_per_resource
        output_mb = statistics.median(run.output_bytes for run in result.runs) / 1e6
        print(
            f"{f'{n:,} + {n:,}':>20} | {result.wall_s:>7.2f} | {result.cpu_s:>6.2f} | "
            f"{result.peak_rss_mb:>11.1f} | {output_mb:>9.1f} | {verdict}"
        )
    rss = [result.peak_rss_mb for result in results]
    spread = max(rss) - min(rss)
    print(f"\nflat in N: peak RSS spread across sizes {spread:.1f} MB ({min(rss):.0f}..{max(rss):.0f} MB)")
    if len(results) > 1:
        first, last = results[0], results[-1]
        per_10k = (last.wall_s - first.wall_s) / (last.objects_per_resource - first.objects_per_resource) * 10_000
        print(f"marginal wall time: {per_10k:.2f} s per 10k+10k objects")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k only, one run each")
    parser.add_argument("--runs", type=int, help="runs per size (default 3, or 1 with --quick)")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    runs = args.runs or (1 if args.quick else 3)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    env = child_environment()
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as tmp:
        workdir = Path(tmp)
        print("warm-up (fills the bytecode cache; not counted)", file=sys.stderr)
        bench_size(100, 1, workdir, env)
        baseline = import_baseline(env)
        results = [bench_size(size, runs, workdir, env) for size in sizes]

    print_table(results, baseline, runs)
    report = {
        "target": TARGET,
        "cores": os.cpu_count(),
        "baseline_import": {"wall_s": baseline[0], "peak_rss_mb": baseline[1]},
        "results": [
            {"objects_per_resource": r.objects_per_resource, "runs": [asdict(run) for run in r.runs]} for r in results
        ],
    }
    (OUT_DIR / "bench_collector.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory and time of the raw load for one big snapshot: flat in the file size?

    python bench/bench_load_memory.py [--sizes 10000,50000,100000] [--runs 1]

For each size N, writes one cluster's kubectl List of N Deployments and N HPAs (objects as
`kubectl get -o json` prints them, 4-space indent: ~3.2 KB per Deployment + HPA, 319 MB at
100k, a bit more than the 226 MB of a real 100k-Deployment file), then loads the day in a
fresh subprocess per sink:

- duckdb: `pipeline.load_day` into a new DuckDB file (the local path, one transaction);
- ndjson: `raw.day.write_day_rows` into the NDJSON temp files the BigQuery sink uploads;
- json.loads: the whole document parsed at once, for reference (what the loader used to do).

Peak RSS is the child's own `ru_maxrss` (its high-water mark, read at its end). Target:
<= 300 MB at 100k Deployments. Measured (2 cores, shared): duckdb 90 / 118 / 156 MB at
10k / 50k / 100k, 157 MB at 200k (DuckDB's share is capped by warehouse.LOAD_MEMORY_LIMIT);
ndjson 41-42 MB at every size; json.loads 129 / 586 / 1,156 MB. Figures go to bench/out/bench_load_memory.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "bench" / "out" / "bench_load_memory.json"
DAY = date(2026, 10, 11)
CLUSTER = "gke-bench"
SINKS = ("duckdb", "ndjson", "json.loads")
TARGET_MB = 300
TARGET_SIZE = 100_000
sys.path[:0] = [str(REPO_ROOT / "include"), str(REPO_ROOT)]


def snapshot_items(count: int):
    from tooling.k8s_objects import deployment_object, hpa_object

    for index in range(count):
        namespace, name = f"team-{index % 400:03d}", f"api-{index:06d}.v1-eu"
        deployment = deployment_object(namespace, name, replicas=2 + index % 5, cpu=1, memory_gb=2, team=namespace)
        deployment["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "3"}
        yield deployment
        yield hpa_object(namespace, name, target=name, min_replicas=2, max_replicas=6, current=2 + index % 5)


def write_snapshot(archive_dir: Path, count: int) -> Path:
    """One cluster's file for DAY, written item by item (the generator stays small too)."""
    from replica_ledger.raw.layout import ARCHIVE

    path = archive_dir / ARCHIVE.snapshot_name(DAY, CLUSTER)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"apiVersion": "v1", "items": [\n')
        for index, item in enumerate(snapshot_items(count)):
            out.write((",\n" if index else "") + json.dumps(item, indent=4))
        out.write('\n], "kind": "List", "metadata": {"resourceVersion": ""}}\n')
    return path


# --------------------------------------------------------------------------- child


def child(sink: str, archive_dir: Path, work: Path) -> dict:
    started = time.perf_counter()
    if sink == "duckdb":
        from replica_ledger import pipeline
        from replica_ledger.settings import Settings

        changes = work / "changes.jsonl"
        changes.write_text("")
        settings = replace(Settings(), archive_dir=archive_dir, duckdb_path=work / "w.duckdb", ped_changes=changes)
        rows = pipeline.load_day(settings, DAY)["rows"]
    elif sink == "ndjson":
        from replica_ledger.raw.day import write_day_rows
        from replica_ledger.raw.ndjson import NdjsonDayFiles
        from replica_ledger.raw.stores import LocalStore

        with NdjsonDayFiles(work) as files:
            rows = write_day_rows(LocalStore(archive_dir), DAY, (), files).rows
    else:
        from replica_ledger.raw.layout import ARCHIVE

        document = json.loads((archive_dir / ARCHIVE.snapshot_name(DAY, CLUSTER)).read_bytes())
        rows = {"items": len(document["items"])}
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(sink: str, archive_dir: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-load-", dir=archive_dir.parent) as work:
        command = [sys.executable, __file__, "--child", sink, str(archive_dir), work]
        output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800).stdout
    return json.loads(output.splitlines()[-1])


# --------------------------------------------------------------------------- parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--sinks", default=",".join(SINKS))
    parser.add_argument("--child", nargs=3, metavar=("SINK", "ARCHIVE", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sink, archive_dir, work = args.child
        print(json.dumps(child(sink, Path(archive_dir), Path(work))))
        return 0
    results = []
    OUT.parent.mkdir(parents=True, exist_ok=True)
    for size in (int(part) for part in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-load-", dir=OUT.parent) as tmp:
            path = write_snapshot(Path(tmp) / "archive", size)
            file_mb = path.stat().st_size / 1e6
            for sink in args.sinks.split(","):
                runs = [run_child(sink, Path(tmp) / "archive") for _ in range(args.runs)]
                best = min(runs, key=lambda run: run["peak_rss_mb"])
                result = {"deployments": size, "file_mb": round(file_mb, 1), "sink": sink, "runs": runs, **best}
                results.append(result)
                print(
                    f"{size:>7,} Deployments ({file_mb:5.0f} MB)  {sink:<10}  peak RSS {best['peak_rss_mb']:6.0f} MB"
                    f"  {best['seconds']:6.1f} s",
                    file=sys.stderr,
                )
    OUT.write_text(json.dumps({"target_mb": TARGET_MB, "target_size": TARGET_SIZE, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory and time of the raw load for one big snapshot: flat in the file size?

    python bench/bench_load_memory.py [--sizes 10000,50000,100000] [--runs 1]

For each size N, writes one cluster's kubectl List of N Deployments and N HPAs (objects as
`kubectl get -o json` prints them, 4-space indent: ~3.2 KB per Deployment + HPA, 319 MB at
100k, a bit more than the 226 MB of a real 100k-Deployment file), then loads the day in a
fresh subprocess per sink:

- duckdb: `pipeline.load_day` into a new DuckDB file (the local path, one transaction);
- ndjson: `raw.day.write_day_rows` into the NDJSON temp files the BigQuery sink uploads;
- gcs.gz+ndjson: the same, the file gzipped in a bucket of fake-gcs-server, read through
  `GcsStore` (google-cloud-storage range reads): what a Composer worker does before the
  BigQuery load jobs (skipped if the emulator cannot start);
- json.loads: the whole document parsed at once, for reference (what the loader used to do).

Peak RSS is the child's own high-water mark (VmHWM, read at its end). Target:
<= 300 MB at 100k Deployments. Measured (2 cores, shared): duckdb 89 / 125 / 157 MB at
10k / 50k / 100k, 157 MB at 200k (DuckDB's share is capped by warehouse.LOAD_MEMORY_LIMIT);
ndjson 41-42 MB at every size; gcs.gz+ndjson 85 / 90 / 94 MB; json.loads 130 / 586 / 1,156 MB.
Figures go to bench/out/bench_load_memory.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
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
SINKS = ("duckdb", "ndjson", "gcs.gz+ndjson", "json.loads")
BUCKET = "bench-archive"
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
    elif sink.endswith("ndjson"):
        from replica_ledger.raw.day import write_day_rows
        from replica_ledger.raw.ndjson import NdjsonDayFiles
        from replica_ledger.raw.stores import GcsStore, LocalStore

        store = GcsStore(BUCKET, "snapshots") if sink.startswith("gcs") else LocalStore(archive_dir)
        with NdjsonDayFiles(work) as files:
            rows = write_day_rows(store, DAY, (), files).rows
    else:
        from replica_ledger.raw.layout import ARCHIVE

        document = json.loads((archive_dir / ARCHIVE.snapshot_name(DAY, CLUSTER)).read_bytes())
        rows = {"items": len(document["items"])}
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's RSS high-water mark: VmHWM (ru_maxrss would keep the parent's from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(sink: str, archive_dir: Path, env: dict[str, str] | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-load-", dir=archive_dir.parent) as work:
        command = [sys.executable, __file__, "--child", sink, str(archive_dir), work]
        environment = {**os.environ, **(env or {})}
        output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800, env=environment)
    return json.loads(output.stdout.splitlines()[-1])


def start_gcs():
    """fake-gcs-server with an empty bucket, or None when it cannot start here."""
    from tooling.emulators import gcs

    try:
        emulator = gcs.start()
    except gcs.EmulatorError as exc:
        print(f"gcs.gz+ndjson skipped: {exc}", file=sys.stderr)
        return None
    emulator.create_bucket(BUCKET)
    return emulator


def upload_gzipped(emulator, path: Path) -> None:
    """The snapshot as the collector leaves it on GCS: <cluster>.json.gz (compressed in a stream)."""
    from replica_ledger.raw.layout import ARCHIVE

    packed = path.with_name(path.name + ".gz")
    with path.open("rb") as source, gzip.open(packed, "wb", compresslevel=6) as target:
        shutil.copyfileobj(source, target, 1024 * 1024)
    name = f"snapshots/{ARCHIVE.snapshot_name(DAY, CLUSTER, gzip=True)}"
    emulator.client().bucket(BUCKET).blob(name).upload_from_filename(str(packed), content_type="application/gzip")
    packed.unlink()


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
    sinks = args.sinks.split(",")
    emulator = start_gcs() if any(sink.startswith("gcs") for sink in sinks) else None
    if emulator is None:
        sinks = [sink for sink in sinks if not sink.startswith("gcs")]
    try:
        for size in (int(part) for part in args.sizes.split(",")):
            results += measure_size(size, sinks, args.runs, emulator)
    finally:
        if emulator is not None:
            emulator.stop()
    OUT.write_text(json.dumps({"target_mb": TARGET_MB, "target_size": TARGET_SIZE, "results": results}, indent=2))
    return 0


def measure_size(size: int, sinks: list[str], run_count: int, emulator) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-load-", dir=OUT.parent) as tmp:
        path = write_snapshot(Path(tmp) / "archive", size)
        file_mb = path.stat().st_size / 1e6
        if emulator is not None:
            upload_gzipped(emulator, path)
        for sink in sinks:
            env = emulator.env() if sink.startswith("gcs") else None
            runs = [run_child(sink, Path(tmp) / "archive", env) for _ in range(run_count)]
            best = min(runs, key=lambda run: run["peak_rss_mb"])
            results.append({"deployments": size, "file_mb": round(file_mb, 1), "sink": sink, "runs": runs, **best})
            print(
                f"{size:>7,} Deployments ({file_mb:5.0f} MB)  {sink:<14}  peak RSS {best['peak_rss_mb']:6.0f} MB"
                f"  {best['seconds']:6.1f} s",
                file=sys.stderr,
            )
    return results


if __name__ == "__main__":
    sys.exit(main())

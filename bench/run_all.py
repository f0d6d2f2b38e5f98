"""`make bench`: every benchmark of replica-ledger, one table of figures against their targets.

    python -m bench.run_all [--backfill-days 5] [--skip collector,backfill,...]

Each part is its own module (bench/bench_*.py, runnable alone as `python -m bench.NAME` from
the repo root, so that it imports tooling/ and tests/ as packages); this one runs them one
after the other (never two at a time: they would share the 2 cores), reads the JSON each
leaves in bench/out/, and prints the table. Medians of 3 runs unless the note says
otherwise. Targets are printed next to the figures, never asserted: the machine is shared
and timings are noisy. The table is also written to bench/out/summary.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import bench_backfill, machine_speed

# How a shorter backfill becomes a 30-day figure (bench_backfill.thirty_days_s).
EXTRAPOLATION = "start-up + 29 x per-day before the month end + the month-end run"
# Airflow 3's backfill target is a 30-day figure: measured, never extrapolated.
AIRFLOW3_BACKFILL_DAYS = 30

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "bench" / "out"
PARTS = (
    "fleet",
    "collector",
    "load",
    "dbt",
    "audit",
    "policies",
    "parse",
    "backfill",
    "bigquery",
    "statements",
    "demo",
)
DEMO_TARGET_RATIO = 0.5
FLEET_APIS, FLEET_DAYS, FLEET_RUNS = 2000, 30, 3


@dataclass
class Row:
    part: str
    what: str
    value: str
    target: str = ""
    verdict: str = ""
    note: str = ""


def verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "MISSED"


def python(venv: str) -> str:
    return str(REPO_ROOT / ".venv" / venv / "bin" / "python")


def run(command: list[str], timeout: float) -> float:
    """Run a part; its own progress goes to stderr. Returns its wall time."""
    print(f"\n== {' '.join(Path(part).name if part.startswith('/') else part for part in command)}", file=sys.stderr)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO_ROOT, check=True, timeout=timeout, stdout=sys.stderr)
    return time.perf_counter() - started


def read(name: str) -> dict:
    return json.loads((OUT_DIR / name).read_text())


# --------------------------------------------------------------------------- parts


def fleet_rows() -> list[Row]:
    """The generator in this process: write FLEET_DAYS days of FLEET_APIS APIs, 3 times."""
    from tooling.synthetic_fleet import FleetSpec, generate

    spec = FleetSpec(apis=FLEET_APIS, days=FLEET_DAYS)
    times, summary = [], None
    for _ in range(FLEET_RUNS):
        with tempfile.TemporaryDirectory(prefix="bench-fleet-", dir=OUT_DIR) as tmp:
            started = time.perf_counter()
            summary = generate(spec, Path(tmp))
            times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    note = (
        f"{summary.snapshot_files} files, {summary.bytes_written / 1e6:.0f} MB, {len(summary.gaps)} gaps, "
        f"{summary.limit_changes} PED changes, {summary.hand_edits} hand-edited HPAs, "
        f"{summary.rollout_api_days} rollout API-days; {seconds / FLEET_DAYS * 1000:.0f} ms per day"
    )
    return [
        Row(
            "fleet",
            f"generate {FLEET_APIS:,} APIs x {FLEET_DAYS} days (archive + PED log)",
            f"{seconds:.2f} s",
            note=note,
        )
    ]


def collector_rows() -> list[Row]:
    run([python("af3"), "-m", "bench.bench_collector"], timeout=900)
    report = read("bench_collector.json")
    rows = []
    rss = []
    for result in report["results"]:
        n = result["objects_per_resource"]
        wall = statistics.median(run["wall_s"] for run in result["runs"])
        peak = statistics.median(run["peak_rss_mb"] for run in result["runs"])
        rss.append(peak)
        target = verdict_text = ""
        if n == 10_000:
            target = "<= 5 s, <= 150 MB"
            verdict_text = "met" if wall <= 5 and peak <= 150 else "MISSED"
        rows.append(
            Row(
                "collector",
                f"collector {n:,} + {n:,} objects (fake API server)",
                f"{wall:.2f} s, {peak:.0f} MB",
                target,
                verdict_text,
                f"median of {len(result['runs'])}; peak RSS of the collector process",
            )
        )
    spread = max(rss) - min(rss)
    rows.append(
        Row(
            "collector",
            "collector peak RSS spread 1k..50k",
            f"{spread:.0f} MB",
            "flat in N",
            "met" if spread <= 0.25 * min(rss) else "MISSED",
            "within 25% of the smallest = flat",
        )
    )
    return rows


def load_rows() -> list[Row]:
    """Peak RSS of the raw load per snapshot size (bench/bench_load_memory.py): flat in the file size."""
    run([python("af3"), "bench/bench_load_memory.py"], timeout=1800)
    report = read("bench_load_memory.json")
    rows = []
    for result in report["results"]:
        at_target = result["deployments"] == report["target_size"] and result["sink"] != "json.loads"
        rows.append(
            Row(
                "load",
                f"load {result['deployments']:,} Deployments ({result['file_mb']:.0f} MB), {result['sink']}",
                f"{result['peak_rss_mb']:.0f} MB, {result['seconds']:.1f} s",
                f"<= {report['target_mb']} MB" if at_target else "",
                verdict(result["peak_rss_mb"], report["target_mb"]) if at_target else "",
                "reference: whole document at once" if result["sink"] == "json.loads" else "peak RSS of the load",
            )
        )
    return rows


def dbt_rows() -> list[Row]:
    run([python("af3"), "-m", "bench.bench_dbt"], timeout=1200)
    rows = []
    for row in read("bench_dbt.json")["rows"]:
        target = f"<= {row['target']:g} s" if row["target"] else ""
        rows.append(
            Row(
                "dbt",
                row["what"],
                f"{row['value']:.2f} s",
                target,
                verdict(row["value"], row["target"]) if row["target"] else "",
                row["note"],
            )
        )
    return rows


def statements_rows() -> list[Row]:
    """Every team's statement of a month for 2,000 APIs (bench/bench_statements.py)."""
    run([python("af3"), "-m", "bench.bench_statements"], timeout=1800)
    report = read("bench_statements.json")
    wall, peak = report["wall_s"], report["peak_rss_mb"]
    runs = report["runs"]
    load = ", ".join(f"{value:.1f}" for value in report["load_average"])
    return [
        Row(
            "statements",
            f"statements of a month, {report['apis']:,} APIs ({runs[0]['written']} teams; HTML, CSV, JSON)",
            f"{wall:.2f} s, {peak:.0f} MB",
            f"<= {report['target_s']:g} s, <= {report['target_mb']:g} MB",
            "met" if wall <= report["target_s"] and peak <= report["target_mb"] else "MISSED",
            f"median of {len(runs)}; fresh process each, peak RSS of the writing process;"
            f" {runs[0]['bytes'] / 1e6:.0f} MB written; load average {load}",
        )
    ]


def audit_rows() -> list[Row]:
    """One day of audit log, 2,000 APIs x 50 writes (bench/bench_audit.py): what it adds to the day."""
    run([python("af3"), "-m", "bench.bench_audit"], timeout=1800)
    report = read("bench_audit.json")
    audit, lines = report["audit"], report["written"]["lines"]
    label = f"audit log {report['apis']:,} APIs x {report['writes_per_api']} writes ({lines:,} lines)"
    note = (
        f"1 run each, fresh processes; day without audit: load {report['reference']['load']['wall_s']:.1f} s, "
        f"build {report['reference']['build']['wall_s']:.1f} s; {audit['limit_edits']} edits, "
        f"{audit['intraday_breaches']} intraday breaches"
    )
    return [
        Row(
            "audit",
            f"{label}: load_day",
            f"{audit['load']['wall_s']:.2f} s (+{report['load_added_s']:.2f} s)",
            f"<= +{report['load_added_target_s']:g} s",
            verdict(report["load_added_s"], report["load_added_target_s"]),
            note,
        ),
        Row(
            "audit",
            f"{label}: build_day",
            f"{audit['build']['wall_s']:.2f} s (+{report['build_added_s']:.2f} s)",
            f"<= +{report['build_added_target_s']:g} s",
            verdict(report["build_added_s"], report["build_added_target_s"]),
            "the day's window rebuilt with the audit models (intra-day peaks, who crossed)",
        ),
    ]


def policies_rows() -> list[Row]:
    """A day's policy folder for 5,000 APIs in 400 namespaces (bench/bench_policies.py)."""
    run([python("af3"), "-m", "bench.bench_policies"], timeout=600)
    report = read("bench_policies.json")
    size_kb, limit_kb = report["max_config_map_bytes"] / 1024, report["config_map_limit_bytes"] / 1024
    rules_kb, object_kb = report["max_cluster_rules_bytes"] / 1024, report["object_limit_bytes"] / 1024
    scale = f"{report['apis']:,} APIs in {report['namespaces']} namespaces, {report['clusters']} clusters"
    return [
        Row(
            "policies",
            f"policy folder, {scale}",
            f"{report['median_s']:.2f} s, largest ConfigMap {size_kb:.1f} KB",
            f"<= {report['target_s']:g} s, <= {limit_kb:.0f} KB",
            "met" if report["median_s"] <= report["target_s"] and size_kb <= limit_kb else "MISSED",
            f"median of {len(report['runs_s'])}: objects, YAML, manifest, local write; largest ClusterRules "
            f"{rules_kb:.0f} KB (object limit {object_kb:.0f} KB); folder {report['folder_bytes'] / 1e6:.1f} MB",
        )
    ]


def parse_rows() -> list[Row]:
    run([python("af3"), "-m", "bench.bench_parse"], timeout=900)
    rows = []
    for result in read("parse_times.json")["results"]:
        for file in result.get("files", []):
            rows.append(
                Row(
                    "parse",
                    f"parse {Path(file['file']).name} on Airflow {result['airflow']}",
                    f"{file['median_s']:.3f} s",
                    "<= 0.3 s",
                    verdict(file["median_s"], 0.3),
                    f"median of {file['runs']} fresh imports; cold {file['cold_s']:.2f} s; "
                    f"DB connects {result['db_connections']}, network {len(result['network_connects'])}",
                )
            )
    return rows


def backfill_rows(days: int) -> list[Row]:
    """Airflow 3's 30-day backfill as measured (its target is a 30-day figure), then the same
    backfill with one late file; Airflow 2.11 over `days` days, extrapolated to 30."""
    rows = []
    for airflow, length in ((3, AIRFLOW3_BACKFILL_DAYS), (2, days)):
        command = ["-m", "bench.bench_backfill", "--airflow", str(airflow), "--days", str(length)]
        run([python("af3"), *command], timeout=3600)
        report = read(f"bench_backfill_af{airflow}_{length}d.json")
        rows += backfill_report_rows(report)
        if airflow == 3:
            # The same backfill with one file landing late in the middle: the run after it heals it.
            run([python("af3"), *command, "--late-file"], timeout=3600)
            rows += late_file_rows(read(f"bench_backfill_af3_{length}d_late_file.json"), report)
    return rows


def late_file_rows(report: dict, clean: dict) -> list[Row]:
    """The backfill with one late file, next to the same backfill without it."""
    days, late = report["days"], report["late_file"]
    target = report.get("target_30d_s", report["target_s"]) if days == 30 else report["target_s"]
    healed = ", ".join(
        f"{day} ({rebuilt} days rebuilt)"
        for day, rebuilt in zip(late["healed_by"], late["days_rebuilt_by_healer"], strict=True)
    )
    note = (
        f"1 run; file of {late['late_day']} copied in mid-backfill, healed by the run of {healed or 'NO RUN'}; "
        f"{late['days_rebuilt']} day-builds for {days} days; {report['wall_s'] - clean['wall_s']:+.0f} s "
        f"against the backfill without it"
    )
    label = f"backfill {days} days on Airflow 3, one late file in the middle"
    ok = verdict(report["wall_s"], target) if late["healed_by"] else "MISSED"
    rows = [Row("backfill", label, f"{report['wall_s']:.0f} s", f"<= {target:.0f} s", ok, note)]
    if days != 30:
        estimate = bench_backfill.thirty_days_s(report)
        target_30d = report.get("target_30d_s", 30 * report["target_s"] / days)
        rows.append(
            Row(
                "backfill",
                "  -> 30 days with one late file, extrapolated",
                f"~{estimate:.0f} s",
                f"<= {target_30d:.0f} s",
                verdict(estimate, target_30d),
                f"EXTRAPOLATED from {days} days: {EXTRAPOLATION}",
            )
        )
    return rows


def backfill_report_rows(report: dict) -> list[Row]:
    days, airflow = report["days"], report["airflow"]
    per_day_target = report["target_s"] / days
    # Airflow 3 has a fixed 30-day target too (bench_backfill.AIRFLOW3_30_DAYS_TARGET_S).
    target_30d = report.get("target_30d_s", 30 * per_day_target)
    target = target_30d if days == 30 else report["target_s"]
    label = f"backfill {days} days on Airflow {airflow} ({report['apis']} APIs)"
    note = (
        f"1 run; dbt {report['dbt_s']:.0f} s ({report['dbt_commands']} commands), Airflow + glue "
        f"{report['airflow_overhead_s']:.0f} s (start-up {report['startup_s']:.0f} s); "
        f"per day: dbt build {report['per_day_dbt_build_s']:.1f} s, {report['tasks_per_day']:.1f} tasks, "
        f"floor {report['per_task_floor_s']:.2f} s/task"
    )
    if report.get("failed_attempts"):
        note += f"; {len(report['failed_attempts'])} failed attempt(s) retried: {report['failed_attempts'][0][:160]}"
    rows = [
        Row(
            "backfill",
            label,
            f"{report['wall_s']:.0f} s",
            f"<= {target:.0f} s",
            verdict(report["wall_s"], target),
            note,
        )
    ]
    if days != 30:
        estimate = bench_backfill.thirty_days_s(report)
        rows.append(
            Row(
                "backfill",
                f"  -> 30 days on Airflow {airflow}, extrapolated",
                f"~{estimate:.0f} s",
                f"<= {target_30d:.0f} s",
                verdict(estimate, target_30d),
                f"EXTRAPOLATED from {days} days: {EXTRAPOLATION}; `make bench BACKFILL_DAYS=30`",
            )
        )
    return rows


def bigquery_rows() -> list[Row]:
    run([python("af3"), "-m", "bench.bench_bigquery"], timeout=900)
    report = read("bench_bigquery.json")
    rows = []
    for model in report["models"]:
        ratio = model["full_scan_bytes"] / model["scanned_bytes"] if model["scanned_bytes"] else 0
        rows.append(
            Row(
                "bigquery",
                f"BigQuery scan {model['model']} ({model['when']})",
                f"{model['scanned_bytes'] / 1e6:.1f} MB",
                f"full scan {model['full_scan_bytes'] / 1e6:.0f} MB",
                f"{ratio:.0f}x less" if ratio >= 1.5 else "",
                "estimated; " + ", ".join(model["reads"]),
            )
        )
    rows.append(bigquery_total_row(report["models"], f"BigQuery per day / month, {report['apis']:,} APIs"))
    audit = report.get("with_audit_source")
    if audit:
        what = f"  with an audit source ({audit['entries_per_api_day']} entries per API a day)"
        rows.append(bigquery_total_row(audit["models"], what))
    return rows


def bigquery_total_row(models: list[dict], what: str) -> Row:
    daily = [model for model in models if model["when"] == "daily"]
    day = sum(model["scanned_bytes"] for model in daily)
    billed = sum(model["billed_bytes"] for model in daily)
    closes = [model for model in models if model["when"] != "daily"]
    close = sum(model["scanned_bytes"] for model in closes)
    return Row(
        "bigquery",
        what,
        f"{day / 1e6:.0f} MB / {(30 * day + close) / 1e9:.2f} GB",
        "",
        "",
        f"billed with the 10 MB per-table minimum: {billed / 1e6:.0f} MB per day; the month close {close / 1e6:.0f} MB",
    )


# --------------------------------------------------------------------------- table


def demo_rows() -> list[Row]:
    """`make demo` at this checkout against the base commit, one after the other (bench_demo)."""
    run([python("af3"), "-m", "bench.bench_demo"], timeout=7200)
    report = read("bench_demo.json")
    note = (
        f"{report['base_seconds']:.0f} s at {report['base_commit']}, same output: {report['same_output']}, "
        f"load average {', '.join(f'{load:.1f}' for load in report['load_average_after_runs'])}"
    )
    return [
        Row(
            "demo",
            f"make demo (Airflow {report['airflow']}): this checkout / {report['base_commit']}",
            f"{report['this_seconds']:.0f} s ({report['ratio']:.2f}x)",
            f"<= {DEMO_TARGET_RATIO}x",
            verdict(report["ratio"], DEMO_TARGET_RATIO),
            note,
        )
    ]


def render(rows: list[Row], header: str) -> str:
    columns = ("what", "value", "target", "verdict", "note")
    table = [[getattr(row, column) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in table)) for i, column in enumerate(columns[:-1])]
    lines = [header, "", "| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for line in table:
        cells = [cell.ljust(widths[i]) if i < len(widths) else cell for i, cell in enumerate(line)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backfill-days", type=int, default=int(os.environ.get("BACKFILL_DAYS") or 5))
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    builders = {
        "fleet": fleet_rows,
        "collector": collector_rows,
        "load": load_rows,
        "dbt": dbt_rows,
        "audit": audit_rows,
        "policies": policies_rows,
        "parse": parse_rows,
        "backfill": lambda: backfill_rows(args.backfill_days),
        "bigquery": bigquery_rows,  # after dbt: it reads the year's table sizes
        "statements": statements_rows,
        "demo": demo_rows,
    }
    rows: list[Row] = []
    for part in PARTS:
        if part not in skip:
            rows += builders[part]()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    header = (
        f"replica-ledger benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores ({usable} usable), "
        f"{platform.python_implementation()} {platform.python_version()}, load average {load}, "
        f"machine speed {machine_speed.seconds():.2f} s (bench/machine_speed.py), "
        f"total {time.perf_counter() - started:.0f} s"
    )
    text = render(rows, header)
    print("\n" + text)
    (OUT_DIR / "summary.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

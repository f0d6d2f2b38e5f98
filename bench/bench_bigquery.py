"""BigQuery bytes per day: what each model's daily build would scan, estimated offline.

    python -m bench.bench_bigquery [--apis 5000] [--history-days 365]

1. `dbt compile --target bigquery` offline (a dummy service-account key, no introspection,
   any HTTP goes to a closed local port), as tests/dbt/test_bigquery_compile.py does, for
   one snapshot_date (the daily run) and one billing_month (the month-end run).
2. Each model's compiled SQL is parsed with sqlglot. Every table it reads is followed
   through views (staging/intermediate are views: BigQuery scans their base tables) down to
   a stored table, with the partition window the reading SELECT's WHERE gives it: the run
   day (1 partition), the run's lookback window [D - L, D] (L + 1 partitions, L =
   REPLICA_LEDGER_LOOKBACK_DAYS, default 7) or a range reaching further back (N days from
   its first day to D: fct_limit_edits reads the 9 days before the window), the month,
   or everything. A filter on a view is taken as pushed down to its base table: the views
   here are projections, and a window PARTITION BY snapshot_date (int_hpas__by_deployment),
   where BigQuery can push the filter through.
3. Bytes = partitions read x rows per partition x average row bytes of the columns read
   (BigQuery's sizes: 8 per INT64/FLOAT64/DATE/TIMESTAMP, 1 per BOOL, 2 + UTF-8 length per
   STRING, 0 per NULL), all columns of each table read (the staging views select them all;
   an upper bound). Row counts and average sizes come from the year benchmark's DuckDB
   warehouse (bench/out/table_stats.json, written by bench_dbt.py) scaled linearly to
   `--apis`. Against each: a full-table scan of the same tables at `--history-days`.
BigQuery bills at least 10 MB per table referenced per query: shown as billed.
4. Then again with an audit source, when bench_audit.py has left its day's k8s_audit_events
   sizes (bench/out/audit_table_stats.json): every day of the year gets that many entries
   per API. The year's own warehouse has none.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlglot
from sqlglot import exp

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = REPO_ROOT / "dbt_project"
OUT_DIR = REPO_ROOT / "bench" / "out"
DAY, MONTH = "2026-10-11", "2026-10-01"
LOOKBACK_DAYS = 7  # REPLICA_LEDGER_LOOKBACK_DAYS' default: a daily run rebuilds [D - 7, D]
MIN_BILLED = 10 * 1024**2  # BigQuery's minimum per table referenced (on-demand)
# The month-end models (pipeline.BILLING_MODELS, int_billing_lines+): the daily build leaves them.
BILLING_ROOT = "int_billing_lines"
# Tables that grow per snapshot day (the others are small: the change log, seeds, SCD2).
DAY_PARTITIONED = {"k8s_deployments", "k8s_hpas", "k8s_rejects", "snapshot_manifest", "k8s_audit_events",
                   "k8s_audit_rejects", "day_loads", "fct_deployment_daily", "fct_replica_breaches",
                   "fct_breach_alerts", "fct_limit_edits", "int_audit_values__monthly_peaks"}  # fmt: skip
API_SCALED = {"k8s_deployments", "k8s_hpas", "k8s_audit_events", "fct_deployment_daily", "fct_replica_breaches",
              "fct_breach_episodes", "ped_limit_changes", "dim_replica_limits",
              "fct_limit_change_quarantine", "mart_monthly_billing"}  # fmt: skip


def _dummy_key(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    document = {"type": "service_account", "project_id": "bench", "private_key_id": "0" * 40, "private_key": pem,
                "client_email": "bench@bench.iam.gserviceaccount.com", "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token"}  # fmt: skip
    path.write_text(json.dumps(document))


def compile_bigquery(work: Path) -> dict:
    """The manifest of `dbt compile --target bigquery` for DAY and MONTH, made offline."""
    _dummy_key(work / "key.json")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("REPLICA_LEDGER_", "DBT_"))}
    env.update(GOOGLE_APPLICATION_CREDENTIALS=str(work / "key.json"), HTTP_PROXY="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="", REPLICA_LEDGER_DBT_TARGET="bigquery",
               REPLICA_LEDGER_GCP_PROJECT="bench", REPLICA_LEDGER_BQ_DATASET="ledger",
               REPLICA_LEDGER_RAW_SCHEMA="ledger_raw", DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               DO_NOT_TRACK="1")  # fmt: skip
    command = [str(Path(sys.executable).with_name("dbt")), "compile", "--project-dir", str(PROJECT_DIR),
               "--profiles-dir", str(PROJECT_DIR), "--target", "bigquery", "--target-path", str(work / "target"),
               "--log-path", str(work / "logs"), "--no-partial-parse", "--no-populate-cache", "--no-introspect",
               "--select", "resource_type:model",
               "--vars", json.dumps({"snapshot_date": DAY, "billing_month": MONTH,
                                     "lookback_days": LOOKBACK_DAYS})]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise SystemExit(f"dbt compile --target bigquery failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return json.loads((work / "target" / "manifest.json").read_text())


@dataclass(frozen=True)
class Read:
    table: str  # a stored table: source, seed or non-view model
    window: str  # day | lookback | N days | month | all


def window_of(where: exp.Expression | None) -> str | None:
    """The partition window a WHERE gives (None: no filter on a partition column)."""
    if where is None:
        return None
    text = where.sql(dialect="bigquery").lower()
    if "snapshot_date" in text and f"'{DAY}'" in text:
        if ">=" in text:
            return _range_from(text)  # the window [D - L, D], or a range reaching further back
        # Only an upper bound: the stored history before the window (episodes bridge any gap).
        return "all" if "<" in text else "day"
    return None


def _range_from(text: str) -> str:
    """`lookback` for the window [D - L, D]; `N days` for a range that starts earlier."""
    first = min(date.fromisoformat(found) for found in re.findall(r"'(\d{4}-\d{2}-\d{2})'", text))
    days = (date.fromisoformat(DAY) - first).days + 1
    return "lookback" if days == LOOKBACK_DAYS + 1 else f"{days} days"


class Resolver:
    """Follows the relations a model reads down to stored tables."""

    def __init__(self, manifest: dict):
        self.nodes: dict[str, dict] = {}
        for node in list(manifest["nodes"].values()) + list(manifest["sources"].values()):
            if node["resource_type"] in ("model", "seed", "source"):
                self.nodes[node.get("alias") or node.get("identifier") or node["name"]] = node

    def reads(self, name: str, inherited: str = "all") -> list[Read]:
        node = self.nodes[name]
        if node["resource_type"] != "model" or node["config"]["materialized"] != "view":
            # A table that is not day-partitioned is read whole, whatever the filter.
            return [Read(name, inherited if name in DAY_PARTITIONED else "all")]
        return self.model_reads(name, inherited)

    def model_reads(self, name: str, inherited: str = "all") -> list[Read]:
        tree = sqlglot.parse_one(self.nodes[name]["compiled_code"], read="bigquery")
        found: list[Read] = []
        for table in tree.find_all(exp.Table):
            if table.name not in self.nodes or table.name == name:
                continue  # a CTE name
            select = table.find_ancestor(exp.Select)
            window = window_of(select.args.get("where") if select else None) or inherited
            found += self.reads(table.name, window)
        return found


def with_audit_source(stats: dict, audit: dict) -> dict:
    """The year's table stats with an audit source: every day has as many k8s_audit_events
    rows, of the same sizes, as bench_audit's day (audit_table_stats.json), at the year's APIs."""
    table = audit["tables"]["k8s_audit_events"]
    per_day = table["rows"] / audit["days"] * stats["apis"] / audit["apis"]
    events = {**table, "rows": per_day * stats["days"]}
    return {**stats, "tables": {**stats["tables"], "k8s_audit_events": events}}


def scaled_tables(stats: dict, apis: int, history_days: int) -> dict[str, dict]:
    """Rows per partition (day-partitioned) or in total, and bytes per row, at `apis` APIs."""
    scale = apis / stats["apis"]
    tables = {}
    for name, table in stats["tables"].items():
        rows = table["rows"] * (scale if name in API_SCALED else 1)
        row_bytes = sum(column["avg_bytes"] for column in table["columns"].values())
        if name in DAY_PARTITIONED:
            per_day = rows / stats["days"]
            tables[name] = {"rows_per_day": per_day, "rows": per_day * history_days, "row_bytes": row_bytes}
        else:
            tables[name] = {"rows_per_day": None, "rows": rows, "row_bytes": row_bytes}
    return tables


def bytes_read(read: Read, tables: dict[str, dict]) -> tuple[float, float]:
    """(bytes scanned with the window, bytes of a full scan) of one table read."""
    table = tables.get(read.table) or {"rows_per_day": None, "rows": 0, "row_bytes": 0}
    full = table["rows"] * table["row_bytes"]
    if table["rows_per_day"] is None or read.window == "all":
        return full, full
    fixed = {"day": 1, "lookback": LOOKBACK_DAYS + 1, "month": 31}
    days = fixed[read.window] if read.window in fixed else int(read.window.removesuffix(" days"))
    return min(full, days * table["rows_per_day"] * table["row_bytes"]), full


def daily_models(manifest: dict) -> list[str]:
    """Every model the daily build stores (tables and incrementals; views cost no scan), but
    the billing models, which only the month end builds."""
    billing, todo = set(), [f"model.replica_ledger.{BILLING_ROOT}"]
    while todo:
        node = todo.pop()
        if node not in billing:
            billing.add(node)
            todo += manifest["child_map"].get(node, [])
    return sorted(
        node["name"]
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node["config"]["materialized"] in ("table", "incremental")
        and unique_id not in billing
    )


def estimate(manifest: dict, stats: dict, apis: int, history_days: int) -> list[dict]:
    resolver = Resolver(manifest)
    tables = scaled_tables(stats, apis, history_days)
    result = []
    for model in (*daily_models(manifest), "mart_monthly_billing"):
        reads = resolver.model_reads(model)
        per_table: dict[str, list[float]] = {}
        for read in set(reads):
            read_bytes, full_bytes = bytes_read(read, tables)
            per_table.setdefault(read.table, [0.0, full_bytes])[0] += read_bytes
        scanned = sum(read_bytes for read_bytes, _ in per_table.values())
        full = sum(full_bytes for _, full_bytes in per_table.values())
        billed = sum(max(read_bytes, MIN_BILLED) for read_bytes, _ in per_table.values())
        result.append({
            "model": model,
            "when": "month end" if model == "mart_monthly_billing" else "daily",
            "materialized": resolver.nodes[model]["config"]["materialized"],
            "reads": sorted({f"{read.table}[{read.window}]" for read in reads}),
            "scanned_bytes": scanned, "billed_bytes": billed, "full_scan_bytes": full,
        })  # fmt: skip
    return result


def print_table(rows: list[dict], apis: int, history_days: int, scenario: str = "no audit source") -> None:
    print(f"BigQuery bytes per run, {apis:,} APIs, {history_days} days of history, {scenario}", end=" ")
    print("(estimated, see docstring)")
    print(f"{'model':<30} {'when':<9} {'scanned MB':>11} {'billed MB':>10} {'full scan MB':>13} {'ratio':>7}  reads")
    for row in rows:
        ratio = row["full_scan_bytes"] / row["scanned_bytes"] if row["scanned_bytes"] else 0
        scanned, billed, full = (row[key] / 1e6 for key in ("scanned_bytes", "billed_bytes", "full_scan_bytes"))
        print(
            f"{row['model']:<30} {row['when']:<9} {scanned:>11.2f} {billed:>10.2f} {full:>13.1f} {ratio:>6.0f}x  "
            + ", ".join(row["reads"])
        )
    daily = [row for row in rows if row["when"] == "daily"]
    for key in ("scanned_bytes", "billed_bytes"):
        day = sum(row[key] for row in daily)
        month = 30 * day + sum(row[key] for row in rows if row["when"] != "daily")
        print(f"total {key.split('_')[0]}: {day / 1e9:.3f} GB per day, {month / 1e9:.2f} GB per month")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apis", type=int, default=5000)
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--stats", type=Path, default=OUT_DIR / "table_stats.json")
    parser.add_argument("--audit-stats", type=Path, default=OUT_DIR / "audit_table_stats.json")
    args = parser.parse_args(argv)
    if not args.stats.exists():
        raise SystemExit(f"{args.stats} not found: run `python -m bench.bench_dbt --only year` first")
    stats = json.loads(args.stats.read_text())
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-bigquery-") as tmp:
        manifest = compile_bigquery(Path(tmp))
    rows = estimate(manifest, stats, args.apis, args.history_days)
    print_table(rows, args.apis, args.history_days)
    report = {"apis": args.apis, "history_days": args.history_days, "day": DAY, "month": MONTH, "models": rows}
    if args.audit_stats.exists():
        audit = json.loads(args.audit_stats.read_text())
        audit_rows = estimate(manifest, with_audit_source(stats, audit), args.apis, args.history_days)
        writes = round(audit["tables"]["k8s_audit_events"]["rows"] / audit["days"] / audit["apis"])
        print()
        print_table(audit_rows, args.apis, args.history_days, f"with an audit source ({writes} entries per API a day)")
        report["with_audit_source"] = {"entries_per_api_day": writes, "models": audit_rows}
    else:
        print(f"(no {args.audit_stats}: run `python -m bench.bench_audit` for the estimate with an audit source)")
    (OUT_DIR / "bench_bigquery.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

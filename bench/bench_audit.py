"""The audit log at scale: loading and modelling one day of it for 2,000 APIs with 50 writes
each (100,000 LogEntry lines), most of them the HPA controller's own scale writes.

    python -m bench.bench_audit                  # 2,000 APIs x 50 writes
    python -m bench.bench_audit --apis 200 --writes 20

The synthetic fleet (tooling.synthetic_fleet) gives the snapshots and the PED log; its
history days are loaded and built once. Then two days go the real way, each step in a
fresh Python process as an Airflow task runs it (pipeline.load_day, pipeline.build_day):
first a day with no audit entries (the reference), then the measured day, whose audit
log folder (`dt=YYYY-MM-DD/all.jsonl`, REPLICA_LEDGER_AUDIT_LOG) holds per API: the
controller scaling the Deployment up and down within its HPA's bounds all day, CI
redeploying it and applying its HPA unchanged, and for one API in 20 a person raising
the HPA max above the approved one and reverting it an hour later (an intraday breach
with its "who"). The figure is what the audit log adds to the day's load and build.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.bench_dbt import FULL_BUILD, STEP, dbt_timings, environment, run_child
from tooling import audit_entries as make
from tooling.synthetic_fleet import FleetSpec, api_day, generate, plans

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "bench" / "out"
HISTORY_DAYS = 3
# What the day's audit log may add to the day's load and build (the day without one is the
# reference, measured in the same warehouse a day earlier).
LOAD_ADDED_TARGET_S, BUILD_ADDED_TARGET_S = 10.0, 3.0
CI = "deploy-bot@bench-prod.iam.gserviceaccount.com"
PERSON = "dev@bench.example"
EDITED_EVERY = 20  # one API in 20 has a person's raise-and-revert


def _write(number: int, plan, at: datetime, **fields) -> str:
    return json.dumps(
        make.log_entry(insert_id=f"b-{plan.index:05d}-{number:03d}", at=at, cluster=plan.cluster, **fields)
    )


def api_lines(spec: FleetSpec, plan, offset: int, writes: int) -> list[str]:
    """One API's day of audit entries, in time order: `writes` of them."""
    state = api_day(spec, plan, offset)
    if state is None:  # not on the platform that day (decommissioned)
        return []
    day = datetime.combine(spec.day(offset), datetime.min.time(), tzinfo=UTC)
    step = timedelta(seconds=86_000 // writes)
    lines = []
    ns, name, top = plan.namespace, plan.name, max(2, state.hpa_max)
    for number in range(writes):
        at = day + step * number
        if number == 1:  # CI redeploys at the same replica count: no edit
            body = make.deployment_object(ns, name, state.spec_replicas, image=f"registry.bench/{name}:{offset}")
            kind = dict(resource="deployments", verb="update", request=body, response=body)
            lines.append(
                _write(number, plan, at, namespace=ns, name=name, principal=CI, user_agent=make.CI_AGENT, **kind)
            )
        elif number == 2:  # ... and applies the HPA as it is
            body = make.hpa_object(ns, name, state.hpa_max)
            kind = dict(resource="horizontalpodautoscalers", verb="update", request=body, response=body)
            lines.append(
                _write(number, plan, at, namespace=ns, name=name, principal=CI, user_agent=make.CI_AGENT, **kind)
            )
        elif number in (3, 4) and plan.index % EDITED_EVERY == 0:  # a person raises the max, then reverts it
            value = state.hpa_max + 3 if number == 3 else state.hpa_max
            request = {"@type": "k8s.io/Patch", "spec": {"maxReplicas": value}}
            kind = dict(resource="horizontalpodautoscalers", verb="patch", request=request)
            body = make.hpa_object(ns, name, value)
            lines.append(
                _write(number, plan, at, namespace=ns, name=name, principal=PERSON, user_agent=make.KUBECTL_AGENT,
                       response=body, **kind)
            )  # fmt: skip
        else:  # the HPA controller scales within its bounds
            replicas = 2 + (number * 7 + plan.index) % (top - 1)
            scale = make.scale_object(ns, name, replicas)
            kind = dict(resource="deployments", verb="update", subresource="scale", request=scale, response=scale)
            lines.append(
                _write(number, plan, at, namespace=ns, name=name, principal=make.HPA_CONTROLLER,
                       user_agent=make.HPA_CONTROLLER_AGENT, **kind)
            )  # fmt: skip
    return lines


def write_audit_day(spec: FleetSpec, offset: int, writes: int, folder: Path) -> dict:
    day_dir = folder / f"dt={spec.day(offset).isoformat()}"
    day_dir.mkdir(parents=True)
    count = 0
    with (day_dir / "all.jsonl").open("w") as out:
        for plan in plans(spec):
            lines = api_lines(spec, plan, offset, writes)
            count += len(lines)
            out.writelines(line + "\n" for line in lines)
    return {"lines": count, "mb": (day_dir / "all.jsonl").stat().st_size / 1e6}


def audit_rows(env: dict[str, str], day: str) -> dict:
    from replica_ledger.warehouse import duckdb as warehouse

    with warehouse.connect(Path(env["REPLICA_LEDGER_DUCKDB"]), read_only=True) as con:

        def count(sql: str) -> int:
            return con.execute(sql, [day]).fetchone()[0]

        return {
            "audit_events": count("select count(*) from raw.k8s_audit_events where snapshot_date = ?"),
            "limit_edits": count("select count(*) from main.fct_limit_edits where cast(changed_at as date) = ?"),
            "intraday_breaches": count(
                "select count(*) from main.fct_replica_breaches"
                " where snapshot_date = ? and breach_type = 'intraday_over_limit'"
            ),
            "attributed_alerts": count(
                "select count(*) from main.fct_breach_alerts where snapshot_date = ? and crossed_by is not null"
            ),
        }


def write_audit_table_stats(env: dict[str, str], audit_rows_of_day: int, apis: int) -> None:
    """The audit day's k8s_audit_events rows and column sizes (bench/out/audit_table_stats.json):
    bench_bigquery's scan estimate with an audit source. The measured day is the only one
    with an audit log, so the table holds that day alone."""
    from bench.bench_dbt import column_stats
    from replica_ledger.warehouse import duckdb as warehouse

    with warehouse.connect(Path(env["REPLICA_LEDGER_DUCKDB"]), read_only=True) as con:
        rows = con.execute("select count(*) from raw.k8s_audit_events").fetchone()[0]
        if rows != audit_rows_of_day:
            raise RuntimeError(f"k8s_audit_events holds {rows} rows, not the audit day's {audit_rows_of_day}")
        columns = con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'raw' and table_name = 'k8s_audit_events' order by ordinal_position"
        ).fetchall()
        table = {"schema": "raw", "rows": rows, "columns": column_stats(con, "raw", "k8s_audit_events", columns)}
    stats = {"apis": apis, "days": 1, "tables": {"k8s_audit_events": table}}
    (OUT_DIR / "audit_table_stats.json").write_text(json.dumps(stats, indent=2) + "\n")


def bench(apis: int, writes: int, work: Path) -> dict:
    spec = FleetSpec(apis=apis, days=HISTORY_DAYS + 2, start=datetime(2025, 1, 1).date())
    generate(spec, work / "fleet")
    audit = work / "audit"
    reference_day, measured_day = HISTORY_DAYS, HISTORY_DAYS + 1
    started = time.perf_counter()
    written = write_audit_day(spec, measured_day, writes, audit)
    written["write_s"] = time.perf_counter() - started
    env = {**environment(work, work / "fleet"), "REPLICA_LEDGER_AUDIT_LOG": str(audit)}
    print(f"  {written['lines']:,} audit lines ({written['mb']:.0f} MB); loading {HISTORY_DAYS} days", file=sys.stderr)
    for offset in range(HISTORY_DAYS):
        run_child(STEP, ["load_day", spec.day(offset).isoformat()], env)
    run_child(FULL_BUILD, [], env)  # the history's facts; fills dbt's partial parse cache
    days = {}
    for label, offset in (("reference", reference_day), ("audit", measured_day)):
        day = spec.day(offset).isoformat()
        load = run_child(STEP, ["load_day", day], env)
        build = {**run_child(STEP, ["build_day", day], env), **dbt_timings(env)}
        days[label] = {"day": day, "load": load, "build": build, **audit_rows(env, day)}
        print(f"  {label} {day}: load {load['wall_s']:.2f} s, build {build['wall_s']:.2f} s", file=sys.stderr)
    write_audit_table_stats(env, days["audit"]["audit_events"], apis)
    return {"apis": apis, "writes_per_api": writes, "written": written, **days}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apis", type=int, default=2000)
    parser.add_argument("--writes", type=int, default=50)
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-audit-", dir=OUT_DIR) as tmp:
        report = bench(args.apis, args.writes, Path(tmp))
    audit, reference = report["audit"], report["reference"]
    report.update(
        load_added_s=audit["load"]["wall_s"] - reference["load"]["wall_s"],
        build_added_s=audit["build"]["wall_s"] - reference["build"]["wall_s"],
        load_added_target_s=LOAD_ADDED_TARGET_S,
        build_added_target_s=BUILD_ADDED_TARGET_S,
    )
    (OUT_DIR / "bench_audit.json").write_text(json.dumps(report, indent=2, default=str))
    print(
        f"audit log, {args.apis:,} APIs x {args.writes} writes ({report['written']['lines']:,} lines): "
        f"load_day {audit['load']['wall_s']:.2f} s (+{report['load_added_s']:.2f} s, target <= "
        f"+{LOAD_ADDED_TARGET_S:g} s), build_day {audit['build']['wall_s']:.2f} s (+{report['build_added_s']:.2f} s,"
        f" target <= +{BUILD_ADDED_TARGET_S:g} s); {audit['limit_edits']} edits, "
        f"{audit['intraday_breaches']} intraday breaches, {audit['attributed_alerts']} alert rows with a who"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make demo-gcp`: the production wiring (REPLICA_LEDGER_ENV=gcp) over the demo month, on local emulators.

What runs for real, each on 127.0.0.1:

- BigQuery: the local-bigquery emulator (tooling/emulators/bigquery.py); dbt's
  ``bigquery_emulator`` target and the product's BigQuery clients talk to it.
- GCS: fake-gcs-server; the archive bucket holds the demo archive, plus one live capture.
- Firestore: gcloud's emulator, holding the APIs' current limits as PED documents; the
  production ``firestore-sync`` command reconciles them with the BigQuery PED table.
- Kubernetes: tooling/fake_kube_api.py; the collector CLI snapshots it into the bucket
  for the day just closed (the live capture path of the collector pod).
- Slack: tooling/slack_receiver.py behind the three webhook connections of
  dbt_project/seeds/team_slack_routes.csv; every body it gets is kept as a JSON file.

Then the DAG runs over the demo month with ``scripts/run_days.py`` (``dag.test()`` per day,
like ``make demo``): the days are in the past, so the snapshot branch takes
``archive_only`` and no collector pod is started. The report is printed from BigQuery, the
marts are exported as JSON (for comparing with ``make demo``), and everything started
here is stopped, also on failure.

Run through ``make demo-gcp`` (scripts/demo_gcp.sh sets up Airflow first).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from replica_ledger.settings import load_settings
from tooling.cadence import cadence_error
from tooling.emulators import bigquery, firestore, gcs
from tooling.fake_kube_api import FakeKubeApi
from tooling.ped_table import PED_TABLE, load_ped_change_log, ped_rows
from tooling.slack_receiver import SlackReceiver

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_ARCHIVE = REPO_ROOT / "demo" / "archive"
DEMO_PED_LOG = REPO_ROOT / "demo" / "ped_limit_changes.jsonl"
FIRST_DAY, LAST_DAY = date(2026, 10, 1), date(2026, 10, 31)
BUCKET = "replica-ledger-demo-archive"
SNAPSHOT_PREFIX = "snapshots"
CLUSTERS = ("gke-demo-eu", "gke-demo-us")
RAW_DATASET = "replica_ledger_raw"
DATASET = "replica_ledger"
PED_COLLECTION = "ped-apis"
# One local webhook per connection of team_slack_routes.csv: every team's alert reaches Slack.
SLACK_TOKENS = {
    "slack_default_webhook": "T0DEMO000/B0DEMO000/default",
    "slack_payments_webhook": "T0DEMO000/B0DEMO001/payments",
    "slack_orders_webhook": "T0DEMO000/B0DEMO002/orders",
}
# Exported after the run: what `make demo` builds too, row for row (tests/dags/test_demo_gcp.py).
MARTS = (
    "mart_monthly_billing",
    "fct_replica_breaches",
    "fct_breach_episodes",
    "fct_snapshot_gaps",
    "dim_replica_limits",
    "fct_deployment_daily",
    "mart_limit_raises",
)
# Exported beside them: which episode each Slack route was told about (alerts/ledger.py).
ALERT_LOG = "alert_log"
# And which PED raise the platform route was told about (alerts/raise_log.py).
RAISE_LOG = "limit_raise_log"
# And which team statement version each route was told about (statements/ledger.py).
STATEMENT_LOG = "statement_log"
# The fake cluster's size for the live capture: small, it only shows the path works.
LIVE_DEPLOYMENTS, LIVE_HPAS = 40, 30


def say(text: str) -> None:
    print(f"[demo-gcp] {text}", flush=True)


# ----------------------------------------------------------------------------- services


@dataclass
class Services:
    bigquery: bigquery.BigQueryEmulator
    gcs: gcs.GcsEmulator
    firestore: firestore.FirestoreEmulator
    kube: FakeKubeApi
    slack: SlackReceiver


# The emulators run in their own sessions (process groups). What was started is recorded
# here, so that a run killed without a chance to clean up (SIGKILL, a test timeout) has its
# emulators stopped by the next run, or by `stop_leftovers` in a test's teardown.
STARTED_FILE = "started.json"
_COMMAND_MARKERS = {"bigquery": "bigquery_server.py", "gcs": "fake-gcs-server", "firestore": "emulators firestore"}


def _record_started(work: Path, name: str, pid: int) -> None:
    path = work / STARTED_FILE
    started = json.loads(path.read_text()) if path.exists() else {}
    started[name] = pid
    path.write_text(json.dumps(started))


def stop_leftovers(work: Path) -> list[str]:
    """Stop the emulators an earlier run in `work` recorded and never stopped; returns their names."""
    from tooling.emulators._background import process_runs, stop_group

    path = work / STARTED_FILE
    started = json.loads(path.read_text()) if path.exists() else {}
    stopped = []
    for name, pid in started.items():
        if process_runs(pid, _COMMAND_MARKERS[name]):
            stop_group(pid)
            stopped.append(name)
    path.unlink(missing_ok=True)
    return stopped


@contextlib.contextmanager
def running_services(work: Path, slack_folder: Path) -> Iterator[Services]:
    """Start every local stand-in; stop each one on the way out, whatever happened."""
    logs = work / "logs"
    leftovers = stop_leftovers(work)
    if leftovers:
        say(f"stopped what a killed earlier run left running: {', '.join(leftovers)}")
    # A fresh BigQuery each time: the demo shows one month built from nothing.
    shutil.rmtree(work / "bigquery", ignore_errors=True)
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: (work / STARTED_FILE).unlink(missing_ok=True))
        say("starting the BigQuery emulator, fake-gcs-server, the Firestore emulator, Kubernetes and Slack")
        bq = bigquery.start(data_dir=work / "bigquery", log_path=logs / "bigquery.log")
        stack.callback(bq.stop)
        _record_started(work, "bigquery", bq.pid)
        storage = gcs.start(log_path=logs / "fake-gcs-server.log")
        stack.callback(storage.stop)
        _record_started(work, "gcs", storage.pid)
        store = firestore.start(log_path=logs / "firestore.log")
        stack.callback(store.stop)
        _record_started(work, "firestore", store.pid)
        kube = stack.enter_context(FakeKubeApi(deployments=LIVE_DEPLOYMENTS, hpas=LIVE_HPAS))
        slack = stack.enter_context(SlackReceiver(slack_folder))
        say(
            f"BigQuery {bq.endpoint}, GCS {storage.url}, Firestore {store.host}, "
            f"Kubernetes {kube.url}, Slack {slack.base_url()} (logs: {logs})"
        )
        yield Services(bq, storage, store, kube, slack)
        say("stopping the emulators and local servers")


def stop_on_signals() -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so the emulators are stopped (they run in their own sessions)."""

    def raise_exit(signum, _frame):
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, raise_exit)


# ----------------------------------------------------------------------------- the archive in GCS


def capture_live(services: Services, work: Path, env: Mapping[str, str]) -> list[str]:
    """The collector CLI against the fake cluster, into gs://BUCKET/snapshots, for the day just closed."""
    day = datetime.now(UTC).date() - timedelta(days=1)
    written = []
    for cluster in CLUSTERS:
        kubeconfig = services.kube.write_kubeconfig(work / f"kubeconfig-{cluster}", context=cluster)
        command = [sys.executable, "-m", "replica_ledger.collector", "--cluster", cluster]
        command += ["--output", f"gs://{BUCKET}/{SNAPSHOT_PREFIX}", "--kubeconfig", str(kubeconfig)]
        command += ["--context", cluster]
        result = subprocess.run(command, env=dict(env), capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"the collector failed for {cluster} ({result.returncode}):\n{result.stderr[-3000:]}")
        written.append(f"{cluster} ({result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'ok'})")
    names = [
        blob.name
        for blob in services.gcs.client().list_blobs(BUCKET, prefix=f"{SNAPSHOT_PREFIX}/dt={day.isoformat()}/")
    ]
    say(f"live capture for {day} (the day just closed) with the collector CLI: {', '.join(sorted(names))}")
    return names


def upload_demo_archive(services: Services) -> int:
    names = services.gcs.upload_folder(BUCKET, DEMO_ARCHIVE, SNAPSHOT_PREFIX)
    say(f"uploaded the demo archive: {len(names)} objects into gs://{BUCKET}/{SNAPSHOT_PREFIX}/")
    return len(names)


# ----------------------------------------------------------------------------- the PED change log


def load_ped_table(client, path: Path) -> int:
    """(Re)create the PED table with the PED pipeline's DDL and fill it from the demo's JSON Lines."""
    table, loaded = load_ped_change_log(client, path, RAW_DATASET)
    lines = sum(1 for line in path.read_text().splitlines() if line)
    say(f"PED change log: {loaded} of {lines} lines loaded into {table} ({lines - loaded} not a JSON object)")
    return loaded


def ped_document(row: Mapping) -> dict:
    """An API's current version as the PED document Firestore would hold for it."""
    return {
        "metadata": {"namespace": row["namespace"], "name": row["deployment"], "team": row["team"]},
        "spec": {
            "minReplicas": row["min_replicas"],
            "maxReplicas": row["max_replicas"],
            "resources": {"cpu": row["cpu"], "memoryGb": row["memory_gb"]},
        },
        "changedBy": "demo-firestore-seed",
    }


def seed_and_sync_firestore(services: Services, rows: list[dict]) -> str:
    """Write each live API's current limits to Firestore, then run the production firestore-sync.

    The documents repeat the state the change log already ends with, so the sync appends
    nothing and the demo's results stay those of `make demo`; the sync's summary says so.
    A deleted API gets no document (a missing document never decommissions anything).
    """
    from replica_ledger.changelog import current_versions
    from replica_ledger.ped import cli

    project = services.bigquery.project
    current = current_versions(rows)
    live = {key: row for key, row in sorted(current.items()) if row["action"] != "delete"}
    for (namespace, deployment), row in live.items():
        services.firestore.put_document(project, f"{PED_COLLECTION}/{namespace}--{deployment}", ped_document(row))
    out = io.StringIO()
    table = f"bq://{project}.{RAW_DATASET}.{PED_TABLE}"
    code = cli.main(
        ["firestore-sync", "--project", project, "--collection", PED_COLLECTION, "--log", table],
        env={firestore.EMULATOR_HOST_ENV: services.firestore.host},
        bigquery_client=services.bigquery.client(),
        out=out,
        err=out,
    )
    summary = out.getvalue().strip().splitlines()[-1] if out.getvalue().strip() else "(no output)"
    if code != 0 or "accepted=0" not in summary:
        raise RuntimeError(f"firestore-sync did not leave the change log as it was (exit {code}):\n{out.getvalue()}")
    say(
        f"Firestore: seeded {len(live)} PED documents (each live API's current limits) into "
        f"{PED_COLLECTION}; firestore-sync into {table}: {summary} (same state as the change log: nothing appended)"
    )
    return summary


# ----------------------------------------------------------------------------- the DAG


def gcp_environment(services: Services, base: Mapping[str, str]) -> dict[str, str]:
    """The Composer environment variables of docs/deploy-composer.md, pointed at the local services."""
    env = dict(base)
    env.update(services.bigquery.dbt_env())
    env.update(services.gcs.env())
    env.update(
        REPLICA_LEDGER_ENV="gcp",
        REPLICA_LEDGER_GCS_BUCKET=BUCKET,
        REPLICA_LEDGER_GCS_SNAPSHOT_PREFIX=SNAPSHOT_PREFIX,
        REPLICA_LEDGER_CLUSTERS=",".join(CLUSTERS),
        REPLICA_LEDGER_RAW_SCHEMA=RAW_DATASET,
        REPLICA_LEDGER_BQ_DATASET=DATASET,
        # Never pulled: past days take the archive-only branch.
        REPLICA_LEDGER_COLLECTOR_IMAGE="local/replica-ledger-collector:demo",
        REPLICA_LEDGER_COLLECTOR_KUBECONFIG_SECRET="replica-ledger-kubeconfig",  # noqa: S106 - a Secret's name
        # The demo month is in the past: widen the alert window (as `make demo` does).
        REPLICA_LEDGER_ALERT_MAX_AGE_DAYS=base.get("REPLICA_LEDGER_ALERT_MAX_AGE_DAYS", "36500"),
        REPLICA_LEDGER_RETRIES=base.get("REPLICA_LEDGER_RETRIES", "0"),
        # Past days, replayed with dag.test(): no capture window to miss, and Airflow 3's
        # dag.test() cannot finish a run of a DAG with a deadline alert (docs/production-checks.md).
        REPLICA_LEDGER_CAPTURE_DEADLINE_HOURS=base.get("REPLICA_LEDGER_CAPTURE_DEADLINE_HOURS", "0"),
        # Each data test is a job on the emulator (most of a day's time): the days build the
        # models only and the month close runs every data test once, before billing.
        REPLICA_LEDGER_DBT_DAILY_TESTS=base.get("REPLICA_LEDGER_DBT_DAILY_TESTS", "false"),
        # The same audit log as `make demo` (its intra-day breaches and who crossed each limit),
        # loaded into the BigQuery audit partitions by the load step.
        REPLICA_LEDGER_AUDIT_LOG=base.get("REPLICA_LEDGER_AUDIT_LOG") or str(REPO_ROOT / "demo" / "audit_log.jsonl"),
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    for conn_id, token in SLACK_TOKENS.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = services.slack.connection_json(token)
    return env


def run_days(env: Mapping[str, str], first: date, last: date, log_path: Path, every: int = 1) -> None:
    """scripts/run_days.py (dag.test() per day); its per-day lines are echoed, everything else logged."""
    command = [sys.executable, "scripts/run_days.py", first.isoformat(), last.isoformat(), "--every", str(every)]
    command += ["--dags-folder", env.get("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))]
    cadence = "every day" if every == 1 else f"every {every} days and on {last} (each run loads the days it missed)"
    say(
        f"running the DAG with REPLICA_LEDGER_ENV=gcp, dbt target bigquery_emulator, {first}..{last}, "
        f"{cadence} (log: {log_path})"
    )
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            for line in process.stdout:
                log.write(line)
                if line.startswith("[replica-ledger]"):
                    print(line, end="", flush=True)
            code = process.wait()
        finally:
            # Interrupted (Ctrl-C, SIGTERM): the Airflow run must not outlive the emulators.
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
    if code != 0:
        raise RuntimeError(f"the DAG runs failed (exit {code}); see {log_path}")


def deployed_environment(services: Services, work: Path, demo_env: Mapping[str, str]) -> dict[str, str]:
    """The environment of the deploy plan's bundle, deployed and checked (tooling/deploy_rehearsal.py).

    The plan is built from `demo_env`'s settings; its bucket is synced into work/deployed/gcs
    (Composer's /home/airflow/gcs) and its Airflow objects go into a fresh metadata DB in
    work/deployed/airflow. Exits naming everything the deployed environment lacks.
    """
    from tooling import deploy_rehearsal as rehearsal

    try:
        _, env = rehearsal.deploy(services, work / "deployed", demo_env, os.environ)
    except rehearsal.RehearsalFailed as exc:
        raise SystemExit(f"[demo-gcp] FAILED: {exc}") from exc
    return env


def print_report(env: Mapping[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "replica_ledger.report"], cwd=REPO_ROOT, env=dict(env), check=False, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError("replica_ledger.report failed")


def every_partition(table) -> str:
    """A predicate on the partition column that keeps every row: the facts require a partition filter."""
    partitioning = table.time_partitioning
    if partitioning is None or not partitioning.field:
        return "TRUE"
    kind = next(field.field_type for field in table.schema if field.name == partitioning.field)
    return f"{partitioning.field} >= CAST('1970-01-01' AS {'DATE' if kind == 'DATE' else 'TIMESTAMP'})"


def export_marts(client, folder: Path) -> None:
    """Each mart's rows, and the alert log's, as JSON (values as text), for comparing with
    the DuckDB demo. A table not built yet (the billing mart before the month closes, with
    --to) is said and skipped."""
    from google.api_core.exceptions import NotFound

    folder.mkdir(parents=True, exist_ok=True)
    missing = []
    for name in (*MARTS, ALERT_LOG, RAISE_LOG, STATEMENT_LOG):
        try:
            table = client.get_table(f"{DATASET}.{name}")
        except NotFound:
            missing.append(name)
            continue
        sql = f"SELECT * FROM `{DATASET}.{name}` WHERE {every_partition(table)}"
        rows = [dict(row.items()) for row in client.query_and_wait(sql)]
        (folder / f"{name}.json").write_text(json.dumps(rows, default=str, indent=1, sort_keys=True))
    not_built = f" (not built yet: {', '.join(missing)})" if missing else ""
    say(f"marts exported as JSON into {folder}{not_built}")


# ----------------------------------------------------------------------------- main


def local_dir() -> Path:
    return Path(os.environ.get("REPLICA_LEDGER_LOCAL_DIR") or REPO_ROOT / ".local").resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="first", type=date.fromisoformat, default=FIRST_DAY)
    parser.add_argument("--to", dest="last", type=date.fromisoformat, default=LAST_DAY)
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        help="run the DAG every N days (and on the last day), as after an outage: each run's "
        "lookback window loads the days it missed; N <= REPLICA_LEDGER_LOOKBACK_DAYS + 1",
    )
    parser.add_argument(
        "--deployed",
        action="store_true",
        help="run the days from the Composer deploy plan's bundle, synced through the bucket and "
        "checked first (make deploy-rehearsal's), instead of from the checkout",
    )
    args = parser.parse_args(argv)
    # Before anything starts (scripts/run_days.py would refuse it only after the emulators).
    error = cadence_error(args.every, load_settings().lookback_days)
    if error:
        parser.error(error)
    stop_on_signals()
    local = local_dir()
    work = local / "demo-gcp"
    slack_folder = local / "slack-received"
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with running_services(work, slack_folder) as services:
        env = gcp_environment(services, os.environ)
        client = services.bigquery.client()
        for dataset in (RAW_DATASET, DATASET):
            client.create_dataset(dataset, exists_ok=True)
        services.gcs.create_bucket(BUCKET)
        capture_live(services, work, env)
        upload_demo_archive(services)
        load_ped_table(client, DEMO_PED_LOG)
        seed_and_sync_firestore(services, ped_rows(DEMO_PED_LOG))
        run_env = deployed_environment(services, work, env) if args.deployed else env
        log_name = f"run_days-{'deployed-' if args.deployed else ''}airflow{env.get('AIRFLOW_MAJOR', '')}.log"
        run_days(run_env, args.first, args.last, work / log_name, args.every)
        print_report(env)
        export_marts(client, work / "marts")
        received = services.slack.received_files()
    print(
        f"\nWhere things are:\n"
        f"  Slack bodies     : {slack_folder}/   ({len(received)} message(s) received, one JSON file each)\n"
        f"  Marts (JSON)     : {work / 'marts'}/\n"
        f"  Emulator logs    : {work / 'logs'}/\n"
        f"  Airflow log      : {work}/run_days-*.log\n"
        f"  dbt docs         : {os.environ.get('REPLICA_LEDGER_DBT_DOCS_DIR') or local / 'dbt_docs'}/index.html\n"
        f"  took {time.monotonic() - started:.0f}s; every emulator and local server is stopped.",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

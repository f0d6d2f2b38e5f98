"""`make deploy-rehearsal`: the deployed bundle runs two days, not the checkout.

1. The deploy plan (tooling/deploy_plan.py, the one `make deploy-composer` runs) is built
   for a rehearsal bucket, with this environment's own settings (those of `make demo-gcp`,
   pointed at the local emulators).
2. Its bucket files are uploaded to fake-gcs-server, then synced into a folder laid out as
   Composer's ``/home/airflow/gcs`` (``dags/``, ``plugins/``, ``data/``): what the bucket
   holds is all Airflow gets.
3. Airflow runs with that DAGs folder and Composer's import rules: ``dags/`` and
   ``plugins/`` first on ``sys.path`` (the checkout's ``include/`` is never reached), the
   plan's environment variables (paths under ``/home/airflow/gcs`` mapped to the folder),
   the plan's connections (Slack webhooks pointing at the Slack receiver) and pools.
4. Before any run, a check of the deployed environment (``check`` below, in a process with
   that environment) names every missing item at once: a module the bundle imports and
   lacks, a setting the bundle reads and lacks, each route's Slack connection, each task's
   pool. ``dag.test()`` ignores pools; Composer's scheduler silently never runs a task
   whose pool is missing, so the check is what shows it.
5. The days run (a normal day and the month end by default) on the emulators of
   ``make demo-gcp`` (BigQuery, GCS, Firestore, the fake Kubernetes API, Slack), first as
   ``make demo-gcp`` runs them (the checkout), then from the bundle, each on fresh BigQuery
   datasets; the marts, the alert log and the Slack bodies of the two must be equal.

Run through ``make deploy-rehearsal [AIRFLOW=2|3]`` (scripts/deploy_rehearsal.sh sets up
Airflow first). The services and the demo inputs are tooling/demo_gcp.py's.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from replica_ledger.settings import VARIABLES, WAREHOUSE_POOL_VAR
from tooling import demo_gcp
from tooling.deploy_plan import GCS_HOME, WORKER_SCRATCH, DeployPlan, build_plan
from tooling.emulators._background import LOOPBACK

REPO_ROOT = Path(__file__).resolve().parents[1]
BUCKET = "europe-west1-rehearsal-bucket"
DAYS = (date(2026, 10, 11), date(2026, 10, 31))
# Columns a run fills from its wall clock or its own identity: they differ between two
# runs by construction; everything else must be equal.
RUN_COLUMNS = frozenset({"closed_at", "superseded_at", "sent_at", "claimed_at", "claim_token", "run_id"})
# The environment's own settings (`--env-file` of the deploy) are every REPLICA_LEDGER_*
# value of demo-gcp's environment, but these, which point at the emulators: set after the
# plan's, as a test harness would, and never part of it.
EMULATOR_SETTINGS = ("REPLICA_LEDGER_BQ_API_ENDPOINT", "REPLICA_LEDGER_DBT_TARGET")
# Set by the caller's shell for the checkout (scripts/airflow_env.sh): never for the bundle.
CHECKOUT_ONLY = ("REPLICA_LEDGER_", "DBT_", "AIRFLOW_CONN_", "AIRFLOW_VAR_")


def say(text: str) -> None:
    print(f"[deploy-rehearsal] {text}", flush=True)


class RehearsalFailed(RuntimeError):
    """The deployed environment is missing something, or its days differ from demo-gcp's."""


# ----------------------------------------------------------------------------- the plan


def environment_settings(demo_env: Mapping[str, str]) -> dict[str, str]:
    """The environment's own REPLICA_LEDGER_* settings, from demo-gcp's environment (its `--env-file`)."""
    return {key: value for key, value in demo_env.items() if key in VARIABLES and key not in EMULATOR_SETTINGS}


def rehearsal_plan(demo_env: Mapping[str, str]) -> DeployPlan:
    return build_plan(BUCKET, environment_settings(demo_env))


def slack_connection_uris(plan: DeployPlan, slack_host: str) -> dict[str, str]:
    """conn_id -> connection JSON for every connection of the plan (the Slack ones post to the receiver)."""
    connections = {}
    for conn in plan.connections:
        if conn.conn_type == "slackwebhook":
            token = demo_gcp.SLACK_TOKENS.get(conn.conn_id, f"T0REHEARSAL/B0/{conn.conn_id}")
            connections[conn.conn_id] = json.dumps({"conn_type": conn.conn_type, "host": slack_host, "password": token})
        else:
            connections[conn.conn_id] = json.dumps({"conn_type": conn.conn_type})
    return connections


# ----------------------------------------------------------------------------- the bucket


def upload(plan: DeployPlan, gcs) -> int:
    """The plan's bucket files into the rehearsal bucket of fake-gcs-server (made empty first)."""
    client = gcs.client()
    bucket = client.lookup_bucket(plan.bucket) or client.create_bucket(plan.bucket)
    for blob in list(client.list_blobs(plan.bucket)):
        blob.delete()
    for file in plan.files:
        bucket.blob(file.destination).upload_from_filename(str(file.local))
    return len(plan.files)


def sync_to_home(gcs, bucket: str, home: Path) -> int:
    """The bucket's objects into `home`, as Composer's gcsfuse mount shows them at /home/airflow/gcs."""
    shutil.rmtree(home, ignore_errors=True)
    count = 0
    for blob in gcs.client().list_blobs(bucket):
        target = home / blob.name
        target.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(target))
        count += 1
    for folder in ("dags", "plugins", "data"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    return count


def deployed_environment(plan: DeployPlan, home: Path, base: Mapping[str, str], emulators: Mapping[str, str]) -> dict:
    """The process environment of a Composer worker running the bundle in `home`.

    `base` is the caller's environment less everything it set for the checkout; then the
    plan's variables (their /home/airflow/gcs paths mapped to `home`, dbt's scratch folders
    kept under the rehearsal), the emulator endpoints, and Composer's import path.
    """
    env = {key: value for key, value in base.items() if not key.startswith(CHECKOUT_ONLY)}
    # Only the plan's own scratch folder moves under the rehearsal: a checkout (and so the
    # demo's input paths) may itself live under /tmp.
    scratch = str(home.parent / "worker-scratch")
    for key, value in plan.env_variables.items():
        if value == WORKER_SCRATCH or value.startswith(WORKER_SCRATCH + "/"):
            value = scratch + value.removeprefix(WORKER_SCRATCH)
        env[key] = value.replace(GCS_HOME, str(home))
    env.update(emulators)
    env.update(
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(home / "plugins"),
        AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS="False",
        # Composer: dags/ and plugins/ on sys.path. The repo root comes after them only for
        # the local runner (scripts/run_days.py, tooling.airflow_sqlite's SQLite connect
        # args); it holds no replica_ledger package (that is include/, never on this path).
        PYTHONPATH=os.pathsep.join([str(home / "dags"), str(home / "plugins"), str(REPO_ROOT)]),
    )
    return env


# ----------------------------------------------------------------------------- the check (deployed environment)


def _module_exists(module: str, roots: list[Path]) -> bool:
    parts = module.split(".")
    return any(
        (root.joinpath(*parts).with_suffix(".py")).is_file() or (root.joinpath(*parts) / "__init__.py").is_file()
        for root in roots
    )


def _imported_modules(path: Path, package: str | None) -> list[str]:
    """Every module `path` imports (function-level imports too: the tasks import their steps late)."""
    modules = []
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                modules.append(node.module or "")
            elif package:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                modules.append(".".join([*base, node.module] if node.module else base))
    return modules


def missing_modules(home: Path, package: str = "replica_ledger") -> list[str]:
    """Modules of `package` that a deployed file imports and the bucket does not hold."""
    roots = [home / "dags", home / "plugins"]
    problems = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root)
            parts = list(relative.with_suffix("").parts)
            package_parts = parts if path.name == "__init__.py" else parts[:-1]
            if parts[-1] == "__init__":
                package_parts = parts[:-1]
            current = ".".join(package_parts) or None
            for module in _imported_modules(path, current):
                if module.split(".")[0] == package and not _module_exists(module, roots):
                    where = f"dags/{module.replace('.', '/')}.py"
                    problems.append(f"file {where}: imported by {path.relative_to(home)}, not in the bucket")
    return sorted(set(problems))


def check(home: Path, expected_connections: Mapping[str, str]) -> list[str]:
    """What the deployed environment lacks, each named; runs in the deployed environment's process.

    `expected_connections`: conn_id -> conn_type of the plan (to name a wrong type).
    """
    problems = missing_modules(home)
    import replica_ledger

    origin = Path(replica_ledger.__file__).resolve()
    if not origin.is_relative_to(home.resolve() / "dags"):
        problems.append(f"replica_ledger is imported from {origin.parent}, not from the bucket's dags/")
        return problems
    from replica_ledger import settings as names
    from replica_ledger.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        return [*problems, f"settings: {exc}"]
    if not (settings.dbt_project_dir / "dbt_project.yml").is_file():
        problems.append(f"variable {names.DBT_PROJECT_DIR_VAR}: no dbt project at {settings.dbt_project_dir}")
    if not settings.uses_bigquery:
        problems.append(f"variable {names.DBT_TARGET_VAR}: {settings.dbt_target!r} is not a BigQuery target")
    for variable in ("DBT_TARGET_PATH", "DBT_LOG_PATH"):
        value = os.environ.get(variable)
        if not value or Path(value).resolve().is_relative_to(home.resolve()):
            problems.append(f"variable {variable}: dbt would write into the bucket mount ({value or 'unset'})")
    problems += _airflow_problems(home, settings, expected_connections)
    return problems


def _airflow_problems(home: Path, settings, expected_connections: Mapping[str, str]) -> list[str]:
    from airflow.models.connection import Connection
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    from replica_ledger.airflow.compat import dagbag_class

    problems = []
    bag = dagbag_class()(dag_folder=str(home / "dags"))
    for path, error in sorted(bag.import_errors.items()):
        problems.append(f"DAG file {path}: {error.strip().splitlines()[-1]}")
    dag = bag.get_dag("replica_ledger_daily") if not bag.import_errors else None
    if dag is None:
        return [*problems, "DAG replica_ledger_daily: not found in the bucket's dags/"]
    routes = home / "data" / "dbt_project" / "seeds" / "team_slack_routes.csv"
    needed = [settings.slack_conn_id]
    if routes.is_file():
        import csv

        with routes.open(newline="") as seed:
            needed += [row["slack_conn_id"].strip() for row in csv.DictReader(seed)]
    with create_session() as session:
        pools = {row.pool for row in session.query(Pool)}
        connections = {row.conn_id: row.conn_type for row in session.query(Connection)}
    for conn_id in dict.fromkeys(needed):
        if conn_id not in connections:
            problems.append(f"connection {conn_id}: not defined (a route's Slack webhook)")
        elif expected_connections.get(conn_id, connections[conn_id]) != connections[conn_id]:
            problems.append(f"connection {conn_id}: type {connections[conn_id]}, not {expected_connections[conn_id]}")
    for pool in sorted({getattr(task, "pool", None) or "default_pool" for task in dag.tasks}):
        if pool not in pools:
            users = sorted(task.task_id for task in dag.tasks if getattr(task, "pool", None) == pool)
            problems.append(f"pool {pool}: missing (Airflow never schedules {', '.join(users)})")
    return problems


def airflow_commands(commands: list[str]) -> None:
    """`airflow COMMAND` for each, in this interpreter (scripts/airflow_commands.py: one Airflow import)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("airflow_commands", REPO_ROOT / "scripts" / "airflow_commands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.run(commands)


def apply_airflow(plan: DeployPlan, connections: Mapping[str, str]) -> list[str]:
    """The `airflow pools set`, `connections add` and `variables set` commands of the plan
    (on a fresh metadata DB: the rehearsal's, or a copy of a freshly migrated one)."""
    commands = []
    for pool in plan.pools:
        commands.append(f"pools set {shlex.quote(pool.name)} {pool.slots} {shlex.quote(pool.description)}")
    for conn in plan.connections:
        commands.append(
            f"connections add {shlex.quote(conn.conn_id)} --conn-json {shlex.quote(connections[conn.conn_id])}"
        )
    for key, value in plan.airflow_variables.items():
        commands.append(f"variables set {shlex.quote(key)} {shlex.quote(value)}")
    return commands


def prepare_and_check(plan: DeployPlan, gcs, home: Path, env: Mapping[str, str], slack_host: str) -> None:
    """Deploy the plan into `home` (through the bucket), apply its Airflow objects, check the result.

    Raises RehearsalFailed naming every missing item. The Airflow metadata DB of `env` must exist.
    """
    uploaded = upload(plan, gcs)
    synced = sync_to_home(gcs, plan.bucket, home)
    say(
        f"uploaded {uploaded} files to gs://{plan.bucket}, synced {synced} objects into {home} (dags/, plugins/, data/)"
    )
    connections = slack_connection_uris(plan, slack_host)
    request = {
        "home": str(home),
        "commands": apply_airflow(plan, connections),
        "connections": {conn.conn_id: conn.conn_type for conn in plan.connections},
    }
    done = subprocess.run(
        [sys.executable, "-m", "tooling.deploy_rehearsal", "check", json.dumps(request)],
        cwd=home.parent,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        report = done.stdout.split(CHECK_MARKER, 1)[-1].strip() if CHECK_MARKER in done.stdout else ""
        raise RehearsalFailed(
            "the deployed environment is missing:\n  " + (report or done.stderr[-4000:]).replace("\n", "\n  ")
        )
    say(f"the deployed environment has every file, setting, connection and pool it needs ({plan.bucket})")


CHECK_MARKER = "== missing in the deployed environment:"


def _check_main(request_json: str) -> int:
    """`python -m tooling.deploy_rehearsal check REQUEST`: apply the Airflow commands, then check."""
    request = json.loads(request_json)
    home = Path(request["home"])
    if request["commands"]:
        airflow_commands(request["commands"])
    problems = check(home, request["connections"])
    if problems:
        print(CHECK_MARKER)
        print("\n".join(problems))
        return 1
    return 0


# ----------------------------------------------------------------------------- the days


def fresh_datasets(client) -> None:
    """Empty raw and dbt datasets with the demo's PED table: each run builds its days from nothing."""
    for dataset in (demo_gcp.RAW_DATASET, demo_gcp.DATASET):
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
        client.create_dataset(dataset)
    demo_gcp.load_ped_table(client, demo_gcp.DEMO_PED_LOG)


def run_the_days(env: Mapping[str, str], days: tuple[date, ...], log_dir: Path, label: str) -> None:
    """Each day alone (scripts/run_days.py through demo_gcp.run_days), in order."""
    for day in days:
        demo_gcp.run_days(env, day, day, log_dir / f"run_days-{label}-{day}.log")


def collect(services, folder: Path) -> None:
    """The marts and alert log (demo_gcp.export_marts), and the Slack bodies received so far (moved)."""
    demo_gcp.export_marts(services.bigquery.client(), folder / "marts")
    bodies = folder / "slack"
    bodies.mkdir(parents=True, exist_ok=True)
    for path in services.slack.received_files():
        shutil.move(str(path), bodies / path.name)


def _rows(path: Path) -> list[str]:
    rows = json.loads(path.read_text()) if path.exists() else None
    if rows is None:
        return ["(not built)"]
    return sorted(
        json.dumps({key: value for key, value in row.items() if key not in RUN_COLUMNS}, sort_keys=True) for row in rows
    )


# The run a message links to is named after the wall clock it was started at.
_RUN_ID = re.compile(r"manual__\d{4}-\d\d-\d\dT[0-9A-F%:.+]+")


def _bodies(folder: Path) -> list[str]:
    return sorted(
        _RUN_ID.sub("manual__RUN", json.dumps(json.loads(path.read_text()), sort_keys=True))
        for path in folder.glob("*.json")
    )


def differences(reference: Path, deployed: Path) -> list[str]:
    """Each mart (and the alert log, and the Slack bodies) that differs between the two runs, named."""
    found = []
    for name in (*demo_gcp.MARTS, demo_gcp.ALERT_LOG):
        want, got = _rows(reference / "marts" / f"{name}.json"), _rows(deployed / "marts" / f"{name}.json")
        if want != got:
            extra, lacking = sorted(set(got) - set(want)), sorted(set(want) - set(got))
            found.append(
                f"{name}: {len(lacking)} row(s) of demo-gcp missing, {len(extra)} extra; e.g. {(lacking or extra)[:1]}"
            )
    want, got = _bodies(reference / "slack"), _bodies(deployed / "slack")
    if want != got:
        found.append(
            f"Slack bodies: demo-gcp posted {len(want)}, the deployed bundle {len(got)} (or their text differs)"
        )
    return found


# ----------------------------------------------------------------------------- main


def migrate(env: Mapping[str, str]) -> None:
    """A fresh Airflow metadata DB in env's AIRFLOW_HOME (no pool, no connection: the plan's come next)."""
    home = Path(env["AIRFLOW_HOME"])
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "airflow_commands.py"), "db migrate"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RehearsalFailed(f"airflow db migrate failed:\n{(done.stdout + done.stderr)[-4000:]}")


def airflow_home_env(env: Mapping[str, str], airflow_home: Path) -> dict[str, str]:
    """`env` with its Airflow home (and SQLite DB, logs) moved to `airflow_home`; no default connections."""
    moved = dict(env)
    moved.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{airflow_home}/airflow.db",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(airflow_home / "logs"),
        AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS="False",
    )
    return moved


def start_demo_inputs(services) -> None:
    """demo-gcp's inputs: the archive in GCS, the PED table in BigQuery, the PED documents in Firestore."""
    services.gcs.create_bucket(demo_gcp.BUCKET)
    demo_gcp.upload_demo_archive(services)
    fresh_datasets(services.bigquery.client())
    demo_gcp.seed_and_sync_firestore(services, demo_gcp.ped_rows(demo_gcp.DEMO_PED_LOG))


def bundle_environment(plan: DeployPlan, services, work: Path, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of the bundle in work/gcs, with its metadata DB in work/airflow."""
    emulators = {**services.bigquery.dbt_env(), **services.gcs.env(), "NO_PROXY": LOOPBACK, "no_proxy": LOOPBACK}
    return airflow_home_env(deployed_environment(plan, work / "gcs", base, emulators), work / "airflow")


def deploy(services, work: Path, demo_env: Mapping[str, str], base: Mapping[str, str]) -> tuple[DeployPlan, dict]:
    """The plan of `demo_env`'s settings deployed into work/gcs through the bucket, its Airflow
    objects in a fresh metadata DB in work/airflow, and checked: (the plan, the bundle's
    environment). Raises RehearsalFailed naming everything the deployed environment lacks."""
    plan = rehearsal_plan(demo_env)
    env = bundle_environment(plan, services, work, base)
    say(f"Airflow metadata DB for the deployed bundle: {env['AIRFLOW_HOME']}")
    migrate(env)
    prepare_and_check(plan, services.gcs, work / "gcs", env, services.slack.base_url())
    return plan, env


def rehearse(work: Path, days: tuple[date, ...], compare: bool = True) -> list[str]:
    """The whole rehearsal in `work`; returns the differences from demo-gcp (empty: equal)."""
    with demo_gcp.running_services(work, work / "slack-received") as services:
        start_demo_inputs(services)
        demo_env = demo_gcp.gcp_environment(services, os.environ)
        plan, env = deploy(services, work, demo_env, os.environ)
        if compare:
            say(f"demo-gcp (the checkout) for {', '.join(map(str, days))}")
            # The same metadata DB as the bundle's, so the same pool: the plan's (demo-gcp's own
            # Airflow home has the local default's, made by scripts/airflow_init.sh).
            checkout_env = {**demo_env, WAREHOUSE_POOL_VAR: plan.env_variables[WAREHOUSE_POOL_VAR]}
            run_the_days(airflow_home_env(checkout_env, work / "airflow"), days, work, "demo-gcp")
            collect(services, work / "demo-gcp")
            fresh_datasets(services.bigquery.client())
        say(f"the deployed bundle ({work / 'gcs'}) for {', '.join(map(str, days))}")
        run_the_days(env, days, work, "deployed")
        collect(services, work / "deployed")
    return differences(work / "demo-gcp", work / "deployed") if compare else []


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:
        return _check_main(argv[1])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", default=",".join(map(str, DAYS)), help="comma-separated snapshot days, in order")
    parser.add_argument("--no-compare", action="store_true", help="run the bundle only, not demo-gcp beside it")
    args = parser.parse_args(argv)
    days = tuple(date.fromisoformat(day.strip()) for day in args.days.split(",") if day.strip())
    demo_gcp.stop_on_signals()
    work = demo_gcp.local_dir() / "deploy-rehearsal"
    work.mkdir(parents=True, exist_ok=True)
    for old in ("demo-gcp", "deployed"):
        shutil.rmtree(work / old, ignore_errors=True)
    started = time.monotonic()
    try:
        found = rehearse(work, days, compare=not args.no_compare)
    except RehearsalFailed as exc:
        print(f"[deploy-rehearsal] FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    if found:
        print("[deploy-rehearsal] FAILED: the deployed bundle's days differ from demo-gcp's:", file=sys.stderr)
        print("  " + "\n  ".join(found), file=sys.stderr, flush=True)
        return 1
    compared = " and equal to demo-gcp's (marts, alert log, Slack bodies)" if not args.no_compare else ""
    say(f"passed: the deployed bundle ran {', '.join(map(str, days))}{compared} in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

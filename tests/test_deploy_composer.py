"""scripts/deploy_composer.py and `make deploy-composer`: the dry run prints the whole deploy;
a real run (against tests/support/fake_gcloud.py, buckets as folders) lays out a bucket in
which Airflow finds only the DAG file and the DAG imports replica_ledger from the bucket;
what ships is the product only (no tooling/, tests/, bench/ code, nothing importing it)."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "deploy_composer.py"
FAKE_GCLOUD = REPO_ROOT / "tests" / "support" / "fake_gcloud.py"
BUCKET = "europe-west1-prod-1a2b3c4d-bucket"
MAKE_DEPLOY = ["make", "--no-print-directory", "deploy-composer", "ENV=prod", "LOCATION=europe-west1"]
# Development modules that once lived in the product package: they must never ship again.
GENERATORS = {"demo_data.py", "synthetic_fleet.py", "k8s_objects.py", "airflow_sqlite.py"}


@pytest.fixture(scope="module")
def deploy():
    """The deploy script as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("deploy_composer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module while the class is built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
        timeout=300,
    )


def _commands(script: str) -> list[list[str]]:
    """The commands of the printed script, without comments and the preamble."""
    lines = [line for line in script.splitlines() if line and not line.startswith("#")]
    return [shlex.split(line) for line in lines if not line.startswith(("set ", "BUCKET=", "mkdir "))]


@pytest.fixture
def fake_gcloud(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "gcloud"
    root.mkdir()
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    pins = dict(line.split("==") for line in requirements.splitlines() if line and not line.startswith("#"))
    (root / "environment.json").write_text(
        json.dumps(
            {
                "config": {
                    "dagGcsPrefix": f"gs://{BUCKET}/dags",
                    # Composer already has these PyPI packages: the update must be skipped.
                    "softwareConfig": {"pypiPackages": {name: f"=={v}" for name, v in pins.items()}},
                }
            }
        )
    )
    gcloud = tmp_path / "bin" / "gcloud"
    gcloud.parent.mkdir()
    gcloud.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE_GCLOUD))} "$@"\n')
    gcloud.chmod(0o755)
    return root, gcloud


def test_dry_run_prints_the_complete_deploy_and_runs_nothing(fake_gcloud):
    root, gcloud = fake_gcloud
    done = _run("--env", "prod", "--location", "europe-west1", "--bucket", BUCKET, "--dry-run", "--gcloud", str(gcloud))
    assert done.returncode == 0, done.stderr
    assert not (root / "calls.jsonl").exists(), "a dry run called gcloud"
    assert f"BUCKET={BUCKET}" in done.stdout
    rest = _commands(done.stdout.replace(str(gcloud), "gcloud"))
    rsync = ["gcloud", "storage", "rsync", "--recursive", "--delete-unmatched-destination-objects", "--exclude"]
    by_destination = {cmd[-1]: cmd for cmd in rest if cmd[:3] == ["gcloud", "storage", "rsync"]}
    assert set(by_destination) == {
        "gs://$BUCKET/dags/replica_ledger",
        "gs://$BUCKET/dags",
        "gs://$BUCKET/plugins",
        "gs://$BUCKET/data/dbt_project",
    }
    for destination, source in [
        ("gs://$BUCKET/dags/replica_ledger", "include/replica_ledger"),
        ("gs://$BUCKET/dags", "dags"),
        ("gs://$BUCKET/plugins", "plugins"),
        ("gs://$BUCKET/data/dbt_project", "dbt_project"),
    ]:
        command = by_destination[destination]
        assert command[:6] == rsync
        assert command[-2] == str(REPO_ROOT / source)
    assert by_destination["gs://$BUCKET/dags"][6].startswith("^replica_ledger/")
    # The package is synced before the DAG that imports it.
    destinations = [cmd[-1] for cmd in rest]
    assert destinations.index("gs://$BUCKET/dags/replica_ledger") < destinations.index("gs://$BUCKET/dags")
    # No dbt parse, no precompiled manifest: `dbt build` reads the project, never a shipped manifest.
    assert not [cmd for cmd in rest if "parse" in cmd or cmd[:3] == ["gcloud", "storage", "cp"]]
    updates = [cmd for cmd in rest if cmd[:4] == ["gcloud", "composer", "environments", "update"]]
    assert [cmd[4:7] for cmd in updates] == [["prod", "--location", "europe-west1"]] * 3
    assert updates[0][7].startswith("--update-env-variables=^|^")
    assert "REPLICA_LEDGER_DBT_PROJECT_DIR=/home/airflow/gcs/data/dbt_project" in updates[0][7]
    assert "REPLICA_LEDGER_DOCS_GCS_URL=gs://$BUCKET/dbt_docs" in updates[0][7]
    assert "REPLICA_LEDGER_WAREHOUSE_POOL=replica_ledger_warehouse" in updates[0][7]
    assert "cosmos-dbt_docs_dir=gs://$BUCKET/dbt_docs" in updates[1][7]
    assert updates[2][7:] == ["--update-pypi-packages-from-file", str(REPO_ROOT / "requirements.txt")]
    # The pool the wiring names is created (Airflow never schedules a task whose pool is missing).
    runs = [cmd for cmd in rest if cmd[:4] == ["gcloud", "composer", "environments", "run"]]
    assert [cmd[7:11] for cmd in runs] == [["pools", "--", "set", "replica_ledger_warehouse"]]
    assert runs[0][11] == "1"
    assert len(rest) == 8


def test_dry_run_without_bucket_looks_it_up_in_the_script(fake_gcloud):
    done = _run("--env", "prod", "--location", "europe-west1", "--project", "acme-data", "--dry-run")
    assert done.returncode == 0, done.stderr
    lookup = next(line for line in done.stdout.splitlines() if line.startswith("BUCKET=$("))
    assert (
        "gcloud composer environments describe prod --location europe-west1 --project acme-data "
        "'--format=value(config.dagGcsPrefix)'" in lookup
    )
    assert "--project acme-data" in done.stdout.split("update-pypi-packages")[0].splitlines()[-1]


def test_make_target_dry_run():
    if not (REPO_ROOT / ".venv" / "af2" / ".installed").exists():
        pytest.skip("make deploy-composer runs from .venv/af2 (make venvs)")
    done = subprocess.run(
        [*MAKE_DEPLOY, f"BUCKET={BUCKET}", "--dry-run"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"BUCKET={BUCKET}" in done.stdout
    assert "--update-pypi-packages-from-file" in done.stdout
    usage = subprocess.run(["make", "deploy-composer"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert usage.returncode != 0 and "usage: make deploy-composer" in usage.stdout


def test_deploy_lays_out_the_bucket_for_composer(fake_gcloud, deploy, tmp_path: Path):
    root, gcloud = fake_gcloud
    bucket = root / "buckets" / BUCKET
    # Left over from an earlier deploy: a removed DAG goes, the package synced separately stays.
    (bucket / "dags").mkdir(parents=True)
    (bucket / "dags" / "old_dag.py").write_text("# removed since\n")
    env_file = tmp_path / "prod.env"
    env_file.write_text("# production settings\nREPLICA_LEDGER_ENV=gcp\nREPLICA_LEDGER_CLUSTERS=gke-a,gke-b\n")
    done = _run(
        "--env", "prod", "--location", "europe-west1", "--env-file", str(env_file), "--gcloud", str(gcloud),
        env={"FAKE_GCLOUD_ROOT": str(root)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"deployed to gs://{BUCKET}" in done.stdout
    assert "skip (PyPI packages" in done.stdout

    dags = bucket / "dags"
    assert not (dags / "old_dag.py").exists()
    assert (dags / "replica_ledger_daily.py").is_file() and (dags / ".airflowignore").is_file()
    assert (dags / "replica_ledger" / "settings.py").is_file()
    assert (bucket / "plugins" / "replica_ledger_dbt_docs.py").is_file()
    assert (bucket / "data" / "dbt_project" / "dbt_project.yml").is_file()
    assert not list(bucket.rglob("__pycache__")) and not list(bucket.rglob("*.duckdb"))
    assert not (bucket / "data" / "dbt_project" / "logs").exists()
    # The bucket holds exactly the deploy's file list (what the product check reads).
    in_bucket = {path.relative_to(bucket).as_posix() for path in bucket.rglob("*") if path.is_file()}
    listed = {file.destination.removeprefix(f"gs://{BUCKET}/") for file in _shipped(deploy)}
    assert in_bucket == listed
    assert not (bucket / "data" / "dbt_project" / "target").exists()

    software = json.loads((root / "environment.json").read_text())["config"]["softwareConfig"]
    assert software["envVariables"]["REPLICA_LEDGER_CLUSTERS"] == "gke-a,gke-b"
    assert software["envVariables"]["REPLICA_LEDGER_ENV"] == "gcp"
    assert software["envVariables"]["REPLICA_LEDGER_DOCS_GCS_URL"] == f"gs://{BUCKET}/dbt_docs"
    assert software["airflowConfigOverrides"]["cosmos-dbt_docs_dir"] == f"gs://{BUCKET}/dbt_docs"
    environment = json.loads((root / "environment.json").read_text())
    assert environment["pools"] == {
        "replica_ledger_warehouse": {"slots": 1, "description": "replica-ledger warehouse tasks: one writer at a time"}
    }
    calls = [json.loads(line) for line in (root / "calls.jsonl").read_text().splitlines()]
    assert not any("--update-pypi-packages-from-file" in call for call in calls)

    # A second deploy changes nothing in the environment: no `environments update` at all.
    (root / "calls.jsonl").unlink()
    again = _run(
        "--env", "prod", "--location", "europe-west1", "--bucket", BUCKET, "--env-file", str(env_file),
        "--gcloud", str(gcloud), "--skip-pypi", env={"FAKE_GCLOUD_ROOT": str(root)},
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    calls = [json.loads(line) for line in (root / "calls.jsonl").read_text().splitlines()]
    assert not [call for call in calls if call[:3] == ["composer", "environments", "update"]]
    assert not [call for call in calls if "--format=value(config.dagGcsPrefix)" in call]

    # In the bucket's DAG folder, Airflow (this venv's) finds the DAG file and nothing else,
    # whichever .airflowignore syntax is configured (regexp: 2.11's default; glob: 3.x's).
    # A subprocess: the config must not leak into other tests.
    for syntax in ("regexp", "glob"):
        listing = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from airflow.utils.file import list_py_file_paths; "
                "print('\\n'.join(sorted(map(str, list_py_file_paths(sys.argv[1])))))",
                str(dags),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX": syntax, "AIRFLOW__CORE__LOAD_EXAMPLES": "0"},
            timeout=120,
        )
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.split() == [str(dags / "replica_ledger_daily.py")], syntax
    # Composer puts dags/ and plugins/ on sys.path: replica_ledger comes from the bucket.
    where = subprocess.run(
        [sys.executable, "-c", "import replica_ledger.settings as s; print(s.__file__)"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{dags}:{bucket / 'plugins'}"},
        cwd=tmp_path,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip() == str(dags / "replica_ledger" / "settings.py")


def _shipped(deploy) -> list:
    args = deploy.parse_args(["--env", "prod", "--location", "europe-west1", "--bucket", BUCKET])
    return deploy.shipped_files(deploy.plan(args, BUCKET))


def test_deploy_ships_only_the_product(deploy):
    files = _shipped(deploy)
    local = [file.local for file in files]
    assert REPO_ROOT / "include" / "replica_ledger" / "settings.py" in local
    assert REPO_ROOT / "dags" / "replica_ledger_daily.py" in local
    for package in ("tooling", "tests", "bench"):
        assert not [path for path in local if path.is_relative_to(REPO_ROOT / package)], package
    assert not GENERATORS & {path.name for path in local}
    modules = [path for path in local if path.suffix == ".py"]
    assert len(modules) > 20
    assert {str(path): deploy.dev_imports(path) for path in modules if deploy.dev_imports(path)} == {}
    assert deploy.development_code(files) == []


def test_the_deploy_ships_the_plan_files(deploy):
    """The commands and the plan the rehearsal runs are one: the syncs upload exactly the plan's files."""
    args = deploy.parse_args(["--env", "prod", "--location", "europe-west1", "--bucket", BUCKET])
    plan = deploy.deploy_plan(args, BUCKET)
    shipped = [(file.local, file.destination.removeprefix(f"gs://{BUCKET}/")) for file in _shipped(deploy)]
    assert shipped == [(file.local, file.destination) for file in plan.files]
    assert "dags/replica_ledger_daily.py" in {file.destination for file in plan.files}
    assert {pool.name: pool.slots for pool in plan.pools} == {"replica_ledger_warehouse": 1}
    assert plan.env_variables["REPLICA_LEDGER_WAREHOUSE_POOL"] == "replica_ledger_warehouse"
    assert plan.airflow_variables == {}
    slack = {conn.conn_id for conn in plan.connections if conn.conn_type == "slackwebhook"}
    assert slack == {"slack_default_webhook", "slack_payments_webhook", "slack_orders_webhook"}
    # An environment that names its own pool gets that one; Airflow's default_pool needs none.
    named = deploy.build_plan(BUCKET, {"REPLICA_LEDGER_WAREHOUSE_POOL": "bq_writers"})
    assert [pool.name for pool in named.pools] == ["bq_writers"]
    assert deploy.build_plan(BUCKET, {"REPLICA_LEDGER_WAREHOUSE_POOL": "default_pool"}).pools == ()


def test_dev_imports_finds_every_import_form(deploy, tmp_path: Path):
    module = tmp_path / "uses_dev_code.py"
    module.write_text(
        "import json\n"
        "import tests.support.fake_gcs\n"
        "from tooling.demo_data import write_demo\n"
        "from . import sibling\n"
        "def later():\n"
        "    from bench import run_all\n"
        "    import toolingish\n"
    )
    assert deploy.dev_imports(module) == ["tests.support.fake_gcs", "tooling.demo_data", "bench"]


def test_deploy_refuses_a_product_module_that_imports_dev_code(deploy, tmp_path: Path, monkeypatch, capsys):
    """A repo whose package imports a test fixture: the deploy stops before printing or running anything."""
    for folder in ("dags", "plugins", "dbt_project", "include/replica_ledger"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "requirements.txt").write_text("apache-airflow-providers-slack==9.0.0\n")
    (tmp_path / "dbt_project" / "seeds").mkdir()
    (tmp_path / "dbt_project" / "seeds" / "team_slack_routes.csv").write_text("team,slack_conn_id,channel\n")
    (tmp_path / "dags" / "replica_ledger_daily.py").write_text("import replica_ledger\n")
    (tmp_path / "include" / "replica_ledger" / "__init__.py").write_text("")
    fixture_user = tmp_path / "include" / "replica_ledger" / "fixtures.py"
    fixture_user.write_text("from tests.support.fake_gcs import FakeGcs\n")
    monkeypatch.setattr(deploy, "REPO_ROOT", tmp_path)
    with pytest.raises(SystemExit) as refused:
        deploy.main(["--env", "prod", "--location", "europe-west1", "--bucket", BUCKET, "--dry-run"])
    assert "refusing to deploy development code" in str(refused.value)
    assert f"{fixture_user}: imports tests.support.fake_gcs" in str(refused.value)
    assert capsys.readouterr().out == ""


def test_env_file_takes_only_the_settings_the_package_reads(deploy, tmp_path: Path):
    """A misspelt REPLICA_LEDGER_* key would be set in Composer and read by nothing."""
    env_file = tmp_path / "prod.env"
    env_file.write_text("REPLICA_LEDGER_ENV=gcp\nREPLICA_LEDGER_CLUSTER=gke-a\n")
    with pytest.raises(SystemExit, match="REPLICA_LEDGER_CLUSTER is not a replica-ledger setting"):
        deploy.read_env_file(env_file)
    env_file.write_text("REPLICA_LEDGER_ENV=gcp\nREPLICA_LEDGER_CLUSTERS=gke-a\nDBT_LOG_PATH=/tmp/dbt\n")
    assert deploy.read_env_file(env_file)["REPLICA_LEDGER_CLUSTERS"] == "gke-a"


def _doc_tables(section: str) -> list[list[list[str]]]:
    """The Markdown tables of one `### ` section of docs/deploy-composer.md: rows of cells, backticks off."""
    text = (REPO_ROOT / "docs" / "deploy-composer.md").read_text()
    start = text.index(f"\n### {section}\n")
    end = text.find("\n### ", start + 1)
    tables, rows = [], []
    for line in [*text[start:end].splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
            if not set("".join(cells)) <= {"-", ":"}:
                rows.append(cells)
        elif rows:
            tables.append(rows[1:])  # without the header
            rows = []
    return tables


def test_the_checklist_lists_equal_the_deploy_plan(deploy):
    """docs/deploy-composer.md's connections, pools, packages and deploy-set variables are the plan's."""
    plan = deploy.build_plan("BUCKET")
    (connections,) = _doc_tables("9. Connections")
    assert {row[0]: row[1] for row in connections} == {conn.conn_id: conn.conn_type for conn in plan.connections}
    (pools,) = _doc_tables("10. Pools")
    assert {row[0]: int(row[1]) for row in pools} == {pool.name: pool.slots for pool in plan.pools}
    (packages,) = _doc_tables("11. PyPI packages")
    assert {row[0]: row[1] for row in packages} == plan.packages
    own, set_by_deploy = _doc_tables("12. Variables")
    assert {row[0]: row[1] for row in set_by_deploy} == plan.env_variables
    # The environment's own settings the checklist names are settings the package reads,
    # and include every one production requires.
    from replica_ledger.settings import GCP_REQUIRED, VARIABLES

    named = {row[0] for row in own}
    assert named <= set(VARIABLES) and set(GCP_REQUIRED) <= named
    assert not named & set(plan.env_variables)

"""DAG integrity (telemetry-airflow style): every DAG file imports cleanly, with the
conventions the platform team relies on, and parsing touches no database or network.

The DagBag is loaded with dummy `AIRFLOW_VAR_`/`AIRFLOW_CONN_` variables, and with a
metadata database URL that cannot be opened: any parse-time `Variable.get`, connection
lookup or query would then show up as an import error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"
DAG_FILES = sorted(path for path in DAGS_FOLDER.glob("*.py") if not path.name.startswith("_"))

# Run in a child interpreter: the environment (dummy variables, an unreachable DB) must be
# in place before Airflow is imported, and must not leak into the other tests.
_LOAD_DAGBAG = textwrap.dedent(
    """
    import json, sys
    from replica_ledger.airflow.compat import dagbag_class
    bag = dagbag_class()(dag_folder=sys.argv[1])
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "fileloc": dag.fileloc,
            "doc_md": dag.doc_md,
            "tags": sorted(dag.tags or []),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "timetable": type(dag.timetable).__name__,
            "tasks": {
                task.task_id: {
                    "owner": task.owner,
                    "retries": task.retries,
                    "pool": task.pool,
                    "has_failure_callback": bool(task.on_failure_callback),
                }
                for task in dag.tasks
            },
        }
    print(json.dumps({"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": dags}))
    """
)


def load_dagbag(tmp_path: Path, **extra_env: str) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow_home"),
        # A path inside a missing directory: SQLite cannot open it, so any DB access fails.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/missing/dir/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW_VAR_REPLICA_LEDGER_DUMMY": "dummy",
        "AIRFLOW_CONN_SLACK_DEFAULT_WEBHOOK": "slackwebhook://:dummy-token@hooks.slack.invalid/services/T0/B0/x",
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": "google-cloud-platform://?project=dummy-project",
        "PYTHONPATH": f"{REPO_ROOT / 'include'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        **extra_env,
    }
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_DAGBAG, str(DAGS_FOLDER)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=["local", "gcp"])
def dagbag(request, tmp_path_factory) -> dict:
    """The DagBag on the local (DuckDB) wiring and on the production (GCP) wiring."""
    extra = {"REPLICA_LEDGER_ENV": request.param}
    if request.param == "gcp":
        extra.update(
            REPLICA_LEDGER_CLUSTERS="gke-prod-eu,gke-prod-us",
            REPLICA_LEDGER_GCS_BUCKET="dummy-bucket",
            REPLICA_LEDGER_GCP_PROJECT="dummy-project",
            REPLICA_LEDGER_COLLECTOR_KUBECONFIG_SECRET="replica-ledger-kubeconfig",
            REPLICA_LEDGER_COLLECTOR_IMAGE="europe-docker.pkg.dev/dummy-project/replica-ledger/collector:0.1.0",
            REPLICA_LEDGER_DBT_TARGET="bigquery",
        )
    return load_dagbag(tmp_path_factory.mktemp(f"dagbag_{request.param}"), **extra)


def test_no_import_errors(dagbag):
    assert dagbag["import_errors"] == {}


def test_every_dag_file_defines_the_dag_named_after_it(dagbag):
    assert DAG_FILES, "no DAG files found"
    by_file = {Path(dag["fileloc"]).stem: dag_id for dag_id, dag in dagbag["dags"].items()}
    for path in DAG_FILES:
        assert by_file.get(path.stem) == path.stem, f"{path.name} must define dag_id {path.stem!r}"


def test_dags_are_documented_and_tagged(dagbag):
    for dag_id, dag in dagbag["dags"].items():
        assert dag["doc_md"] and len(dag["doc_md"]) > 100, f"{dag_id}: doc_md missing"
        assert dag["tags"], f"{dag_id}: no tags"
        assert dag["catchup"] is False, f"{dag_id}: catchup must be off (backfills are explicit)"
        assert dag["max_active_runs"] == 1, f"{dag_id}: runs of one warehouse must not overlap"


def test_every_task_has_owner_retries_and_failure_alert(dagbag):
    for dag_id, dag in dagbag["dags"].items():
        for task_id, task in dag["tasks"].items():
            assert task["owner"] == "data-platform", f"{dag_id}.{task_id}: owner"
            assert task["retries"] >= 1, f"{dag_id}.{task_id}: retries"
            assert task["has_failure_callback"], f"{dag_id}.{task_id}: on_failure_callback"


def test_daily_dag_uses_a_data_interval_timetable(dagbag):
    # The same logical date D for snapshot day D on Airflow 2.11 and 3.x.
    assert dagbag["dags"]["replica_ledger_daily"]["timetable"] == "CronDataIntervalTimetable"


def test_local_warehouse_writers_share_the_one_slot_pool(dagbag):
    tasks = dagbag["dags"]["replica_ledger_daily"]["tasks"]
    if "load.load_day" not in tasks:
        pytest.skip("GCP wiring: the warehouse is BigQuery")
    readers_and_writers = (
        "load.load_day",
        "transform.dbt_build",
        "alert.route_alerts",
        "alert.post_slack",
        "billing.route_billing",
        "billing.close_month",
        "docs.generate_docs",
        "policies.write_policies",
    )
    for task_id in readers_and_writers:
        assert tasks[task_id]["pool"] == "duckdb_writer", task_id


def test_dag_files_import_nothing_heavy_at_parse_time(tmp_path):
    """Importing a DAG file must not pull in dbt, DuckDB, pandas or the cloud clients.

    Measured against what Airflow itself has loaded once a DAG can be built (2.11's core
    imports the kubernetes client by itself, for instance).
    """
    heavy = ["dbt", "duckdb", "pandas", "pyarrow", "google.cloud.bigquery", "kubernetes", "replica_ledger.pipeline"]
    probe = textwrap.dedent(
        f"""
        import importlib.util, json, sys
        from replica_ledger.airflow.compat import DAG, task  # what any DAG file needs anyway
        already_loaded = set(sys.modules)
        for path in sys.argv[1:]:
            spec = importlib.util.spec_from_file_location("dag_under_test", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        print(json.dumps(sorted(name for name in {heavy!r} if name in sys.modules and name not in already_loaded)))
        """
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/missing/dir/airflow.db",
        "PYTHONPATH": str(REPO_ROOT / "include"),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe, *map(str, DAG_FILES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []

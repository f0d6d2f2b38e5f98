"""The Composer deploy as data: what `make deploy-composer` ships and sets, and what
`make deploy-rehearsal` and docs/deploy-composer.md are checked against.

A plan holds, for one environment bucket:

- the bucket files: each local file and its object under the bucket (``dags/``,
  ``plugins/``, ``data/``), produced by a few folder syncs;
- the PyPI packages (requirements.txt);
- the environment variables the code reads (this layout's, plus the environment's own
  settings given with ``--env-file``);
- the Airflow variables (none: the product reads environment variables only, see
  replica_ledger/settings.py) and the Airflow configuration overrides;
- the connections, by name and type (never a secret: the Slack webhooks live in Secret
  Manager, see docs/deploy-composer.md);
- the pools, with their slots.

Why here and not in ``include/replica_ledger``: only the deploy script, the rehearsal and
the tests use it; it reads the checkout's layout, which does not exist in Composer, and
what sits in ``include/replica_ledger`` ships to every environment.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from replica_ledger.settings import (
    DBT_PROJECT_DIR_VAR,
    DBT_TARGET_VAR,
    DOCS_GCS_URL_VAR,
    GCP_CONN_ID_VAR,
    SLACK_CONN_ID_VAR,
    WAREHOUSE_POOL_VAR,
    Settings,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
GCS_HOME = "/home/airflow/gcs"
# dbt's per-worker scratch space on a Composer worker's local disk (not the gcsfuse mount).
WORKER_SCRATCH = "/tmp/dbt"  # noqa: S108
# Never shipped: bytecode, local dbt output and installed dbt packages.
PYCACHE_EXCLUDE = r".*__pycache__/.*|.*\.pyc$"
DBT_EXCLUDE = r"^(target|logs|dbt_packages)/.*|.*\.duckdb$|.*__pycache__/.*"
# The pool of the warehouse tasks (load, dbt, alerts, billing, docs) in Composer. BigQuery
# takes concurrent writers, but one slot keeps the local order of warehouse writes: a manual
# or backfill run never interleaves its dbt build and ledger writes with the daily run's.
# Not `duckdb_writer`: that pool is the local DuckDB one-writer rule.
COMPOSER_WAREHOUSE_POOL = "replica_ledger_warehouse"
COMPOSER_WAREHOUSE_POOL_SLOTS = 1
# Airflow's own pool: always there, nothing to create.
DEFAULT_POOL = "default_pool"
GCP_CONN_ID = "google_cloud_default"
SLACK_ROUTES_SEED = Path("seeds") / "team_slack_routes.csv"
_PACKAGE_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*?)\s*$")


@dataclass(frozen=True)
class Sync:
    """One folder of the checkout mirrored to one prefix of the bucket (`gcloud storage rsync`).

    `exclude` is a regex matched from the start of the path relative to the folder: those
    paths are neither uploaded nor deleted in the bucket.
    """

    source: Path
    destination: str  # under the bucket, e.g. "dags/replica_ledger"
    exclude: str
    comment: str


@dataclass(frozen=True)
class BucketFile:
    local: Path
    destination: str  # the object name under the bucket, e.g. "dags/replica_ledger_daily.py"


@dataclass(frozen=True)
class Connection:
    conn_id: str
    conn_type: str
    purpose: str
    # Composer creates google_cloud_default itself (the environment's service account).
    provided_by_composer: bool = False


@dataclass(frozen=True)
class Pool:
    name: str
    slots: int
    description: str


@dataclass(frozen=True)
class DeployPlan:
    bucket: str
    syncs: tuple[Sync, ...]
    files: tuple[BucketFile, ...]
    packages: dict[str, str]
    env_variables: dict[str, str]
    airflow_configs: dict[str, str]
    connections: tuple[Connection, ...]
    pools: tuple[Pool, ...]
    airflow_variables: dict[str, str] = field(default_factory=dict)

    def without(self, name: str) -> DeployPlan:
        """This plan less the one item called `name`: a bucket object, an environment or
        Airflow variable, a connection or a pool (for showing what its absence breaks)."""
        files = tuple(file for file in self.files if file.destination != name)
        env = {key: value for key, value in self.env_variables.items() if key != name}
        variables = {key: value for key, value in self.airflow_variables.items() if key != name}
        connections = tuple(conn for conn in self.connections if conn.conn_id != name)
        pools = tuple(pool for pool in self.pools if pool.name != name)
        smaller = replace(
            self, files=files, env_variables=env, airflow_variables=variables, connections=connections, pools=pools
        )
        if smaller == self:
            raise KeyError(f"{name} is not in the plan")
        return smaller


def read_requirements(path: Path) -> dict[str, str]:
    """name (normalized) -> version specifier, the form Composer shows its PyPI packages in."""
    packages = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _PACKAGE_LINE.match(line)
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        packages[name + (match.group(2) or "")] = match.group(3)
    return packages


def syncs(repo_root: Path = REPO_ROOT) -> tuple[Sync, ...]:
    """The bucket's folders, in upload order (the package before the DAG that imports it)."""
    return (
        Sync(
            repo_root / "include" / "replica_ledger",
            "dags/replica_ledger",
            PYCACHE_EXCLUDE,
            "the shared package, importable as replica_ledger (dags/ is on sys.path in Composer)",
        ),
        Sync(
            repo_root / "dags",
            "dags",
            rf"^replica_ledger/.*|{PYCACHE_EXCLUDE}",
            "the DAG files and .airflowignore; dags/replica_ledger/ is excluded, so neither copied nor deleted",
        ),
        Sync(
            repo_root / "plugins",
            "plugins",
            PYCACHE_EXCLUDE,
            "the Airflow plugins (dbt docs view for Airflow 3; Cosmos's own view serves 2.11)",
        ),
        Sync(
            repo_root / "dbt_project",
            "data/dbt_project",
            DBT_EXCLUDE,
            f"the dbt project (without local target/, logs/, dbt_packages/), read by the tasks from "
            f"{GCS_HOME}/data/dbt_project",
        ),
    )


def sync_files(folder_syncs: tuple[Sync, ...]) -> tuple[BucketFile, ...]:
    """Every local file the syncs upload, with its object name (the sync's own exclude rule)."""
    files = []
    for sync in folder_syncs:
        exclude = re.compile(sync.exclude)
        for path in sorted(sync.source.rglob("*")):
            relative = path.relative_to(sync.source).as_posix()
            if path.is_file() and not exclude.match(relative):
                files.append(BucketFile(path, f"{sync.destination}/{relative}"))
    return tuple(files)


def layout_env_variables(bucket: str) -> dict[str, str]:
    """What the code reads in Composer, given where this deploy puts things.

    dbt reads the project from the bucket mount and parses it at each task: its target
    folder (manifest, partial-parse file, run results) and logs go to local scratch, not to
    the gcsfuse mount (slow, and shared by every worker). No precompiled manifest ships:
    `dbt build` reads the project, not a manifest.
    """
    return {
        DBT_PROJECT_DIR_VAR: f"{GCS_HOME}/data/dbt_project",
        DBT_TARGET_VAR: "bigquery",
        DOCS_GCS_URL_VAR: f"gs://{bucket}/dbt_docs",
        "DBT_TARGET_PATH": f"{WORKER_SCRATCH}/target",
        "DBT_LOG_PATH": f"{WORKER_SCRATCH}/logs",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def composer_env_variables(bucket: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment's own settings (`extra`, from --env-file), then this layout's (which win),
    and the warehouse pool of the Composer wiring unless the environment names its own."""
    values = dict(extra or {})
    values.setdefault(WAREHOUSE_POOL_VAR, COMPOSER_WAREHOUSE_POOL)
    values.update(layout_env_variables(bucket))
    return values


def composer_airflow_configs(bucket: str) -> dict[str, str]:
    """[cosmos] options for the dbt docs view in the Airflow UI (Browse > dbt Docs)."""
    return {
        "cosmos-dbt_docs_dir": f"gs://{bucket}/dbt_docs",
        "cosmos-dbt_docs_conn_id": GCP_CONN_ID,
        "cosmos-enable_telemetry": "False",
    }


def slack_connection_ids(dbt_project: Path, env_variables: dict[str, str]) -> list[str]:
    """The failure callback's connection, then every route's of the routes seed, once each."""
    names = [env_variables.get(SLACK_CONN_ID_VAR) or Settings().slack_conn_id]
    with (dbt_project / SLACK_ROUTES_SEED).open(newline="") as seed:
        names += [row["slack_conn_id"].strip() for row in csv.DictReader(seed)]
    return list(dict.fromkeys(name for name in names if name))


def connections(dbt_project: Path, env_variables: dict[str, str]) -> tuple[Connection, ...]:
    slack = [
        Connection(
            conn_id, "slackwebhook", "Slack incoming webhook (Secret Manager: airflow-connections-" + conn_id + ")"
        )
        for conn_id in slack_connection_ids(dbt_project, env_variables)
    ]
    google = Connection(
        env_variables.get(GCP_CONN_ID_VAR) or GCP_CONN_ID,
        "google_cloud_platform",
        "GCS, BigQuery and GKE as the environment's service account",
        provided_by_composer=True,
    )
    return (*slack, google)


def pools(env_variables: dict[str, str]) -> tuple[Pool, ...]:
    name = env_variables.get(WAREHOUSE_POOL_VAR) or COMPOSER_WAREHOUSE_POOL
    if name == DEFAULT_POOL:
        return ()
    return (Pool(name, COMPOSER_WAREHOUSE_POOL_SLOTS, "replica-ledger warehouse tasks: one writer at a time"),)


def build_plan(
    bucket: str,
    env_values: dict[str, str] | None = None,
    requirements: Path | None = None,
    repo_root: Path = REPO_ROOT,
) -> DeployPlan:
    """The whole deploy for the environment whose bucket is `bucket` (may be "$BUCKET" in a printed script)."""
    folder_syncs = syncs(repo_root)
    env_variables = composer_env_variables(bucket, env_values)
    return DeployPlan(
        bucket=bucket,
        syncs=folder_syncs,
        files=sync_files(folder_syncs),
        packages=read_requirements(requirements or repo_root / "requirements.txt"),
        env_variables=env_variables,
        airflow_configs=composer_airflow_configs(bucket),
        connections=connections(repo_root / "dbt_project", env_variables),
        pools=pools(env_variables),
    )

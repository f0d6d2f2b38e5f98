"""Runtime configuration: the one reader of the product's environment variables.

Why env vars: Airflow parses DAG files often, and a `Variable.get` or a database call at
parse time costs a round trip each time. Env vars are free to read, are set per
Composer environment, and can be overridden per command (`make backfill`, tests).

`load_settings()` reads every `REPLICA_LEDGER_*` variable of the DAG's side of the product
once and returns a frozen `Settings`; nothing else in include/replica_ledger reads them.
With REPLICA_LEDGER_ENV=gcp it also reads and validates the production part
(`Settings.gcp`, a `GcpSettings`) and fails with a `SettingsError` naming what is missing.
Two programs keep their own small readers because they run alone, in other images or
repositories: the collector (`collector/settings.py`, the pod image copies only the
collector) and the PED change-log CLI (`ped/`, its bounds and CI variables).

Each default is written here once; dbt's profiles.yml keeps `env_var` fallbacks for hand
runs, but `dbt_runner` passes these values.
"""

from __future__ import annotations

import difflib
import os
import re
import string
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from replica_ledger.contract import DEFAULT_EXCLUDED_NAMESPACES

REPO_ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------- variable names
# Every name is written once here; VARIABLES (the tuple of all of them) is built from the
# `*_VAR` constants below, for tools that check an environment file (scripts/deploy_composer.py).

ENV_VAR = "REPLICA_LEDGER_ENV"
LOCAL_DIR_VAR = "REPLICA_LEDGER_LOCAL_DIR"
ARCHIVE_DIR_VAR = "REPLICA_LEDGER_ARCHIVE_DIR"
PED_CHANGES_VAR = "REPLICA_LEDGER_PED_CHANGES"
AUDIT_LOG_VAR = "REPLICA_LEDGER_AUDIT_LOG"
DUCKDB_VAR = "REPLICA_LEDGER_DUCKDB"
SLACK_OUTBOX_VAR = "REPLICA_LEDGER_SLACK_OUTBOX"
DBT_PROJECT_DIR_VAR = "REPLICA_LEDGER_DBT_PROJECT_DIR"
DBT_TARGET_VAR = "REPLICA_LEDGER_DBT_TARGET"
DBT_DOCS_DIR_VAR = "REPLICA_LEDGER_DBT_DOCS_DIR"
DOCS_URL_VAR = "REPLICA_LEDGER_DOCS_URL"
DOCS_GCS_URL_VAR = "REPLICA_LEDGER_DOCS_GCS_URL"
CLUSTERS_VAR = "REPLICA_LEDGER_CLUSTERS"
EXCLUDED_NAMESPACES_VAR = "REPLICA_LEDGER_EXCLUDED_NAMESPACES"
ALERT_MAX_AGE_DAYS_VAR = "REPLICA_LEDGER_ALERT_MAX_AGE_DAYS"
LIVE_TOLERANCE_DAYS_VAR = "REPLICA_LEDGER_LIVE_TOLERANCE_DAYS"
KUBECONFIG_VAR = "REPLICA_LEDGER_KUBECONFIG"
WAREHOUSE_POOL_VAR = "REPLICA_LEDGER_WAREHOUSE_POOL"
SLACK_CONN_ID_VAR = "REPLICA_LEDGER_SLACK_CONN_ID"
RETRIES_VAR = "REPLICA_LEDGER_RETRIES"
RETRY_DELAY_SECONDS_VAR = "REPLICA_LEDGER_RETRY_DELAY_SECONDS"
DBT_DAILY_TESTS_VAR = "REPLICA_LEDGER_DBT_DAILY_TESTS"
# dbt's own variable: how much the daily builds write to dbt.log (dbt_runner.dbt_environment).
DBT_LOG_LEVEL_FILE_VAR = "DBT_LOG_LEVEL_FILE"
DEPLOY_GRACE_HOURS_VAR = "REPLICA_LEDGER_DEPLOY_GRACE_HOURS"
PED_URL_TEMPLATE_VAR = "REPLICA_LEDGER_PED_URL_TEMPLATE"
LOOKBACK_DAYS_VAR = "REPLICA_LEDGER_LOOKBACK_DAYS"
CAPTURE_DEADLINE_HOURS_VAR = "REPLICA_LEDGER_CAPTURE_DEADLINE_HOURS"
ALLOW_EMPTY_REGISTRY_VAR = "REPLICA_LEDGER_ALLOW_EMPTY_REGISTRY"
# The currency every amount is shown in (an ISO 4217 code; the marts hold plain amounts).
CURRENCY_VAR = "REPLICA_LEDGER_CURRENCY"
# The generated admission policies, ConfigMaps and alert rules (docs/policies.md).
POLICY_DIR_VAR = "REPLICA_LEDGER_POLICY_DIR"
POLICY_ACTIONS_VAR = "REPLICA_LEDGER_POLICY_ACTIONS"
POLICY_APPLY_VAR = "REPLICA_LEDGER_POLICY_APPLY"
POLICY_APPLY_IMAGE_VAR = "REPLICA_LEDGER_POLICY_APPLY_IMAGE"
POLICY_APPLY_SERVICE_ACCOUNT_VAR = "REPLICA_LEDGER_POLICY_APPLY_SERVICE_ACCOUNT"
# Where the teams' monthly statements are written (a folder, or gs://BUCKET/PREFIX), and the
# URL base people open them under (linked from the statement's Slack message).
STATEMENTS_DIR_VAR = "REPLICA_LEDGER_STATEMENTS_DIR"
STATEMENTS_URL_VAR = "REPLICA_LEDGER_STATEMENTS_URL"
# BigQuery (the dbt target `bigquery`, or the tests' `bigquery_emulator`)
GCP_PROJECT_VAR = "REPLICA_LEDGER_GCP_PROJECT"
RAW_SCHEMA_VAR = "REPLICA_LEDGER_RAW_SCHEMA"
BQ_DATASET_VAR = "REPLICA_LEDGER_BQ_DATASET"
BQ_LOCATION_VAR = "REPLICA_LEDGER_BQ_LOCATION"
BQ_API_ENDPOINT_VAR = "REPLICA_LEDGER_BQ_API_ENDPOINT"
PED_PROJECT_VAR = "REPLICA_LEDGER_PED_PROJECT"
PED_DATASET_VAR = "REPLICA_LEDGER_PED_DATASET"
PED_TABLE_NAME_VAR = "REPLICA_LEDGER_PED_TABLE_NAME"
# The production part (REPLICA_LEDGER_ENV=gcp)
GCS_BUCKET_VAR = "REPLICA_LEDGER_GCS_BUCKET"
GCS_SNAPSHOT_PREFIX_VAR = "REPLICA_LEDGER_GCS_SNAPSHOT_PREFIX"
COLLECTOR_IMAGE_VAR = "REPLICA_LEDGER_COLLECTOR_IMAGE"
GCP_CONN_ID_VAR = "REPLICA_LEDGER_GCP_CONN_ID"
# Service accounts the GCS and BigQuery clients impersonate, comma-separated, the last one
# acting (the Google provider's impersonation_chain); empty = the connection's own identity.
IMPERSONATION_CHAIN_VAR = "REPLICA_LEDGER_IMPERSONATION_CHAIN"
POD_MODE_VAR = "REPLICA_LEDGER_POD_MODE"
POD_NAMESPACE_VAR = "REPLICA_LEDGER_POD_NAMESPACE"
KUBE_CONFIG_FILE_VAR = "REPLICA_LEDGER_KUBE_CONFIG_FILE"
POD_SERVICE_ACCOUNT_VAR = "REPLICA_LEDGER_POD_SERVICE_ACCOUNT"
COLLECTOR_KUBECONFIG_SECRET_VAR = "REPLICA_LEDGER_COLLECTOR_KUBECONFIG_SECRET"  # noqa: S105 - a variable name
COLLECTOR_KUBECONFIG_KEY_VAR = "REPLICA_LEDGER_COLLECTOR_KUBECONFIG_KEY"
GKE_LOCATION_VAR = "REPLICA_LEDGER_GKE_LOCATION"
GKE_PROJECT_VAR = "REPLICA_LEDGER_GKE_PROJECT"
POD_CPU_VAR = "REPLICA_LEDGER_POD_CPU"
POD_MEMORY_VAR = "REPLICA_LEDGER_POD_MEMORY"
POD_EPHEMERAL_STORAGE_VAR = "REPLICA_LEDGER_POD_EPHEMERAL_STORAGE"
POD_STARTUP_TIMEOUT_SECONDS_VAR = "REPLICA_LEDGER_POD_STARTUP_TIMEOUT_SECONDS"
POD_TIMEOUT_SECONDS_VAR = "REPLICA_LEDGER_POD_TIMEOUT_SECONDS"

#: Every variable `load_settings` reads.
VARIABLES: tuple[str, ...] = tuple(value for name, value in dict(globals()).items() if name.endswith("_VAR"))
#: Names of the tooling: docker-compose's Airflow image, the tests' switch for network tests.
TOOLING_VARIABLES = ("REPLICA_LEDGER_AIRFLOW_IMAGE", "REPLICA_LEDGER_SKIP_NETWORK_TESTS")
#: Read by dbt alone: macros/run_window.sql still takes a billing month from the environment.
# The run window travels to dbt as environment variables (dbt_project/macros/run_window.sql),
# not --vars: dbt re-parses the whole project whenever --vars change, i.e. on every new day.
RUN_WINDOW_ENV = {
    "snapshot_date": "REPLICA_LEDGER_DBT_SNAPSHOT_DATE",
    # Days before snapshot_date the per-day facts rebuild too: D - the run window's start
    # (raw.record.run_window), at most Settings.lookback_days.
    "lookback_days": "REPLICA_LEDGER_DBT_LOOKBACK_DAYS",
}
PREFIX = "REPLICA_LEDGER_"
#: What REPLICA_LEDGER_ENV=gcp cannot do without.
GCP_REQUIRED = (GCP_PROJECT_VAR, GCS_BUCKET_VAR, COLLECTOR_IMAGE_VAR)

# --------------------------------------------------------------------------- defaults

DEFAULT_RAW_DATASET = "replica_ledger_raw"
DEFAULT_DATASET = "replica_ledger"
DEFAULT_BQ_LOCATION = "EU"
COMPOSER_NAMESPACE = "composer-user-workloads"
COMPOSER_KUBE_CONFIG = "/home/airflow/composer_kube_config"
POD_MODES = ("composer", "gke")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


# --------------------------------------------------------------------------- the audit source

#: REPLICA_LEDGER_AUDIT_LOG naming a BigQuery table (the log sink's) instead of a local path.
AUDIT_TABLE_SCHEME = "bq://"
# Strict on purpose: the table name is written into the query's FROM (a table cannot be a
# query parameter), so it may hold nothing but a project id (optionally domain-scoped,
# `example.com:project`), a dataset and a table name of letters, digits and underscores.
_AUDIT_TABLE = re.compile(
    r"^(?P<project>(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9])"
    r"\.(?P<dataset>[A-Za-z0-9_]{1,1024})"
    r"\.(?P<table>[A-Za-z0-9_]{1,1024})$"
)


@dataclass(frozen=True)
class AuditTable:
    """The log sink's BigQuery table read as the audit log (docs/audit-log.md, "Production")."""

    project: str
    dataset: str
    table: str

    def __post_init__(self) -> None:
        if not _AUDIT_TABLE.match(f"{self.project}.{self.dataset}.{self.table}"):
            raise ValueError(f"{self.project}.{self.dataset}.{self.table} is not a BigQuery table name")

    @property
    def table_id(self) -> str:
        """`project.dataset.table`, as a query's FROM names it (between backquotes)."""
        return f"{self.project}.{self.dataset}.{self.table}"

    def __str__(self) -> str:
        return f"{AUDIT_TABLE_SCHEME}{self.table_id}"


def parse_audit_table(value: str) -> AuditTable:
    """`bq://PROJECT.DATASET.TABLE` -> AuditTable (ValueError naming what is wrong)."""
    match = _AUDIT_TABLE.match(value.removeprefix(AUDIT_TABLE_SCHEME))
    if not value.startswith(AUDIT_TABLE_SCHEME) or match is None:
        raise ValueError(
            f"{value!r} is not {AUDIT_TABLE_SCHEME}PROJECT.DATASET.TABLE (project id: lowercase letters, "
            "digits and hyphens; dataset and table: letters, digits and underscores)"
        )
    return AuditTable(match["project"], match["dataset"], match["table"])


class GcpSettingsError(SettingsError):
    """A required production setting (REPLICA_LEDGER_ENV=gcp) is missing or malformed."""


@dataclass(frozen=True)
class GcpSettings:
    """The production part: the GCS archive and the collector pods (docs/deploy-composer.md)."""

    bucket: str
    collector_image: str
    snapshot_prefix: str = "snapshots"
    gcp_conn_id: str = "google_cloud_default"
    impersonation_chain: tuple[str, ...] = ()
    # Where the collector pods run: "composer" = KubernetesPodOperator in the environment's
    # own cluster (Composer 3: namespace composer-user-workloads), reaching the clusters
    # through a kubeconfig Secret; "gke" = GKEStartPodOperator in each target cluster,
    # in-cluster with the ServiceAccount of include/k8s/rbac.yaml.
    pod_mode: str = "composer"
    pod_namespace: str = COMPOSER_NAMESPACE
    kube_config_file: str = COMPOSER_KUBE_CONFIG
    pod_service_account: str = "default"
    kubeconfig_secret: str = ""
    kubeconfig_secret_key: str = "kubeconfig"  # noqa: S105 - the key (file name) in the Secret, not a secret
    gke_location: str = ""
    gke_project: str = ""
    pod_cpu: str = "500m"
    pod_memory: str = "512Mi"
    pod_ephemeral_storage: str = "1Gi"
    pod_startup_timeout_seconds: int = 600
    pod_timeout_seconds: int = 1800

    @property
    def snapshot_root(self) -> str:
        """The archive root the collector writes to (contract §1.1)."""
        return f"gs://{self.bucket}/{self.snapshot_prefix}"

    def uses_kubeconfig(self) -> bool:
        return self.pod_mode == "composer" and bool(self.kubeconfig_secret)


@dataclass(frozen=True)
class Settings:
    """Everything a task needs to know about where data lives and how to behave."""

    env: str = "local"  # "gcp" selects the production path (GCS archive, collector pods)
    archive_dir: Path = REPO_ROOT / "demo" / "archive"
    ped_changes: Path = REPO_ROOT / "demo" / "ped_limit_changes.jsonl"
    # The Kubernetes audit log (docs/audit-log.md): a local path (JSON Lines file or dt=
    # folder), the log sink's BigQuery table (bq://PROJECT.DATASET.TABLE), or None = none.
    audit_log: Path | AuditTable | None = None
    duckdb_path: Path = REPO_ROOT / ".local" / "warehouse.duckdb"
    slack_outbox: Path = REPO_ROOT / ".local" / "outbox"
    dbt_project_dir: Path = REPO_ROOT / "dbt_project"
    dbt_target: str = "duckdb"
    # Run the data tests in every day's build (default). Off, the day builds models only and
    # the data tests run once before a month is closed: on BigQuery each test is a query job,
    # and a month is still never billed on untested data.
    dbt_daily_tests: bool = True
    # dbt.log keeps what ran and how it ended ("info"). dbt's default, "debug", adds every
    # statement sent and its events: 0.15-0.35 s of a 6 s daily build at 2,000 APIs
    # (bench/bench_dbt.py); the compiled SQL stays in the target folder either way.
    dbt_log_level_file: str = "info"
    dbt_docs_dir: Path = REPO_ROOT / ".local" / "dbt_docs"
    docs_url: str | None = None  # where readers open the dbt docs (linked from alerts)
    docs_gcs_url: str = ""  # gs://BUCKET/PREFIX the docs step uploads to ("" = keep local)
    clusters: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = DEFAULT_EXCLUDED_NAMESPACES
    alert_max_age_days: int = 2
    # Hours after a PED change lowering a max during which the old max (and replicas up to
    # it) is a redeploy on its way, not a breach (dbt var deploy_grace_hours).
    deploy_grace_hours: int = 12
    # The PED repository page of an API, linked from alerts: {namespace} and {deployment}
    # are filled in (None = no link).
    ped_url_template: str | None = None
    live_snapshot_tolerance_days: int = 1
    # How far back a run for day D heals (contract §5 "Late data"): every run, backfill or
    # not, rebuilds [max(D - lookback_days, E), D], E the earliest day whose inputs changed
    # (raw.record.run_window).
    lookback_days: int = 7
    # The platform route hears of day D when its run has not captured it this many hours
    # before D's capture window [D+1, D+2) UTC closes (airflow/deadline.py); 0 = off. On by
    # default in production only: local runs replay past days.
    capture_deadline_hours: int = 0
    # A change log with no readable row makes every API unregistered: the load refuses it
    # unless this says an empty registry is intended (changelog.check_registry).
    allow_empty_registry: bool = False
    currency: str = "EUR"
    # Where each day's policy folder is written: a local folder, or gs://BUCKET/PREFIX (the
    # only choice in production). The bindings' actions: ("Warn", "Audit") or ("Deny", "Audit").
    policy_dir: str = str(REPO_ROOT / ".local" / "policies")
    policy_actions: tuple[str, ...] = ("Warn", "Audit")
    # The apply pod (production only): off unless asked for.
    policy_apply: bool = False
    policy_apply_image: str = "gcr.io/google.com/cloudsdktool/google-cloud-cli:stable"
    policy_apply_service_account: str = "replica-ledger-policy-apply"
    # A local folder, or gs://BUCKET/PREFIX (production's, by default the bucket's statements/).
    statements_dir: str = str(REPO_ROOT / ".local" / "statements")
    statements_url: str | None = None
    kubeconfig: str | None = None
    # The DAG's task defaults (read at parse time: cheap, env only).
    # Every task that opens the DuckDB file takes the one slot of this pool: DuckDB allows a
    # single writing process.
    warehouse_pool: str = "duckdb_writer"
    slack_conn_id: str = "slack_default_webhook"
    retries: int = 1
    retry_delay_seconds: int = 300
    # BigQuery: read when the dbt target is BigQuery (or its emulator).
    gcp_project: str = ""
    raw_dataset: str = DEFAULT_RAW_DATASET
    dataset: str = DEFAULT_DATASET
    bq_location: str = DEFAULT_BQ_LOCATION
    bq_api_endpoint: str | None = None  # the tests' BigQuery emulator: talk to it, anonymously
    # The PED change log table dbt reads on BigQuery ("" = the GCP project / the raw dataset).
    ped_project: str = ""
    ped_dataset: str = ""
    ped_table_name: str = "ped_limit_changes"
    gcp: GcpSettings | None = None  # set when env == "gcp"

    @property
    def uses_bigquery(self) -> bool:
        """The dbt target decides the warehouse: BigQuery (or its emulator), else DuckDB."""
        return self.dbt_target.startswith("bigquery")

    def require_gcp_project(self, purpose: str) -> str:
        if not self.gcp_project:
            raise SettingsError(f"{purpose} needs {GCP_PROJECT_VAR} (see docs/deploy-composer.md)")
        return self.gcp_project


class _Env:
    """Typed reads of one environment mapping; blank counts as unset."""

    def __init__(self, environ: Mapping[str, str], error: type[SettingsError] = SettingsError) -> None:
        self.environ = environ
        self.error = error

    def text(self, name: str, default: str = "") -> str:
        return (self.environ.get(name) or "").strip() or default

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def path(self, name: str, default: Path) -> Path:
        raw = self.text(name)
        return Path(raw).expanduser().resolve() if raw else default

    def csv(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        raw = self.environ.get(name)
        if raw is None:
            return default
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def optional_path(self, name: str) -> Path | None:
        raw = self.text(name)
        return Path(raw).expanduser().resolve() if raw else None

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name).lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise self.error(f"{name}={raw!r} is not a boolean (true/false)")

    def integer(self, name: str, default: int, low: int = 0, high: int | None = None, unit: str = "") -> int:
        """An integer within ``[low, high]`` (``unit`` names what it counts, for the message)."""
        raw = self.text(name)
        expected = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
        if unit:
            expected += f" ({unit})"
        try:
            value = int(raw) if raw else default
        except ValueError:
            raise self.error(f"{name}={raw!r} is not an integer: expected {expected}") from None
        if value < low or (high is not None and value > high):
            raise self.error(f"{name}={value} is out of range: expected {expected}")
        return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (env only: cheap at DAG parse time and at task run time).

    Raises SettingsError (GcpSettingsError for the production part) naming a malformed or
    missing variable.
    """
    env = _Env(os.environ if environ is None else environ)
    check_variable_names(env.environ)
    defaults = Settings()
    local_dir = env.path(LOCAL_DIR_VAR, REPO_ROOT / ".local")
    settings = Settings(
        env=env.text(ENV_VAR, defaults.env),
        archive_dir=env.path(ARCHIVE_DIR_VAR, defaults.archive_dir),
        ped_changes=env.path(PED_CHANGES_VAR, defaults.ped_changes),
        audit_log=_audit_log(env),
        duckdb_path=env.path(DUCKDB_VAR, local_dir / "warehouse.duckdb"),
        slack_outbox=env.path(SLACK_OUTBOX_VAR, local_dir / "outbox"),
        dbt_project_dir=env.path(DBT_PROJECT_DIR_VAR, defaults.dbt_project_dir),
        dbt_target=env.text(DBT_TARGET_VAR, defaults.dbt_target),
        dbt_daily_tests=env.boolean(DBT_DAILY_TESTS_VAR, defaults.dbt_daily_tests),
        dbt_log_level_file=env.text(DBT_LOG_LEVEL_FILE_VAR, defaults.dbt_log_level_file),
        dbt_docs_dir=env.path(DBT_DOCS_DIR_VAR, local_dir / "dbt_docs"),
        docs_url=env.optional(DOCS_URL_VAR),
        docs_gcs_url=env.text(DOCS_GCS_URL_VAR),
        clusters=env.csv(CLUSTERS_VAR, defaults.clusters),
        excluded_namespaces=_excluded_namespaces(env, defaults.excluded_namespaces),
        # The demos and backfill tests replay a past month with 36500: a century, no age limit.
        alert_max_age_days=env.integer(
            ALERT_MAX_AGE_DAYS_VAR, defaults.alert_max_age_days, 0, 36_500, "days an episode may be old and announced"
        ),
        deploy_grace_hours=_deploy_grace_hours(env, defaults.deploy_grace_hours),
        ped_url_template=_ped_url_template(env),
        live_snapshot_tolerance_days=env.integer(
            LIVE_TOLERANCE_DAYS_VAR, defaults.live_snapshot_tolerance_days, 0, 31, "days"
        ),
        lookback_days=_lookback_days(env, defaults.lookback_days),
        capture_deadline_hours=_capture_deadline_hours(
            env, GCP_CAPTURE_DEADLINE_HOURS if env.text(ENV_VAR) == "gcp" else 0
        ),
        allow_empty_registry=env.boolean(ALLOW_EMPTY_REGISTRY_VAR, defaults.allow_empty_registry),
        currency=_currency(env, defaults.currency),
        policy_dir=_policy_dir(env, local_dir),
        policy_actions=_policy_actions(env, defaults.policy_actions),
        policy_apply=env.boolean(POLICY_APPLY_VAR, defaults.policy_apply),
        policy_apply_image=env.text(POLICY_APPLY_IMAGE_VAR, defaults.policy_apply_image),
        policy_apply_service_account=env.text(POLICY_APPLY_SERVICE_ACCOUNT_VAR, defaults.policy_apply_service_account),
        statements_dir=env.text(STATEMENTS_DIR_VAR) or str(local_dir / "statements"),
        statements_url=_http_url(env, STATEMENTS_URL_VAR),
        kubeconfig=env.optional(KUBECONFIG_VAR),
        warehouse_pool=env.text(WAREHOUSE_POOL_VAR, defaults.warehouse_pool),
        slack_conn_id=env.text(SLACK_CONN_ID_VAR, defaults.slack_conn_id),
        retries=env.integer(RETRIES_VAR, defaults.retries, 0, 20, "task retries"),
        retry_delay_seconds=env.integer(RETRY_DELAY_SECONDS_VAR, defaults.retry_delay_seconds, 0, 86_400, "seconds"),
        gcp_project=env.text(GCP_PROJECT_VAR),
        raw_dataset=env.text(RAW_SCHEMA_VAR, defaults.raw_dataset),
        dataset=env.text(BQ_DATASET_VAR, defaults.dataset),
        bq_location=env.text(BQ_LOCATION_VAR, defaults.bq_location),
        bq_api_endpoint=env.optional(BQ_API_ENDPOINT_VAR),
        ped_project=env.text(PED_PROJECT_VAR),
        ped_dataset=env.text(PED_DATASET_VAR),
        ped_table_name=env.text(PED_TABLE_NAME_VAR, defaults.ped_table_name),
    )
    if settings.env != "gcp":
        if settings.policy_apply:
            raise SettingsError(
                f"{POLICY_APPLY_VAR}=true needs {ENV_VAR}=gcp: the day's objects are applied by a pod in production;"
                " locally `make policies` writes them and kubectl applies them (docs/policies.md)"
            )
        return settings
    from replica_ledger.clock import ClockError, env_override

    try:
        env_override(dict(env.environ))
    except ClockError as exc:
        raise GcpSettingsError(str(exc)) from None
    return _with_gcp(settings, _Env(env.environ, GcpSettingsError))


def _audit_log(env: _Env) -> Path | AuditTable | None:
    """REPLICA_LEDGER_AUDIT_LOG: a local path, or bq://PROJECT.DATASET.TABLE (the log sink's
    table). Any other URL (gs://, https://) is an error, not a local path of that name."""
    raw = env.text(AUDIT_LOG_VAR)
    if raw.startswith(AUDIT_TABLE_SCHEME):
        try:
            return parse_audit_table(raw)
        except ValueError as exc:
            raise env.error(f"{AUDIT_LOG_VAR}: {exc}") from None
    if "://" in raw:
        raise env.error(f"{AUDIT_LOG_VAR}={raw!r}: expected a local path or {AUDIT_TABLE_SCHEME}PROJECT.DATASET.TABLE")
    return env.optional_path(AUDIT_LOG_VAR)


def _lookback_days(env: _Env, default: int) -> int:
    """REPLICA_LEDGER_LOOKBACK_DAYS: 0 (a run rebuilds its own day only) to a year."""
    return env.integer(LOOKBACK_DAYS_VAR, default, 0, 366, "days before the run's day")


# A namespace (DNS-1123 label: lowercase letters, digits, `-`) with `*` as the only wildcard:
# the one pattern language of the scope (audit/writes.in_scope, dbt's ledger_namespace_in_scope).
_NAMESPACE_PATTERN = re.compile(r"[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?")


def _excluded_namespaces(env: _Env, default: tuple[str, ...]) -> tuple[str, ...]:
    """REPLICA_LEDGER_EXCLUDED_NAMESPACES: names, `*` matching any run of characters. A glob's
    `?` or `[...]` (or LIKE's `_`, `%`) would be read as a plain character: refused here."""
    patterns = env.csv(EXCLUDED_NAMESPACES_VAR, default)
    for pattern in patterns:
        if len(pattern) > 63 or not _NAMESPACE_PATTERN.fullmatch(pattern):
            raise env.error(
                f"{EXCLUDED_NAMESPACES_VAR}: {pattern!r} is not a namespace pattern (lowercase letters, digits"
                " and '-', at most 63 characters; '*' is the only wildcard)"
            )
    return patterns


#: The capture deadline's default with REPLICA_LEDGER_ENV=gcp: hours before the window closes.
GCP_CAPTURE_DEADLINE_HOURS = 6


def _capture_deadline_hours(env: _Env, default: int) -> int:
    """REPLICA_LEDGER_CAPTURE_DEADLINE_HOURS: 0 (off) to 23; 24 would be the window's opening itself."""
    return env.integer(
        CAPTURE_DEADLINE_HOURS_VAR, default, 0, 23, "hours before day D's capture window [D+1, D+2) UTC closes; 0 = off"
    )


#: The placeholders a PED URL template may use.
PED_URL_FIELDS = ("namespace", "deployment")


def _currency(env: _Env, default: str) -> str:
    """REPLICA_LEDGER_CURRENCY: three capital letters (ISO 4217), shown after every amount."""
    code = env.text(CURRENCY_VAR, default)
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise env.error(f"{CURRENCY_VAR}={code!r} is not a currency code (three capital letters, ISO 4217: EUR, USD)")
    return code


GCS_SCHEME = "gs://"
#: REPLICA_LEDGER_POLICY_ACTIONS -> the bindings' validationActions. Audit is always there: the
#: audit log's annotation of a failed write is how the ledger learns of it (docs/policies.md).
POLICY_ACTIONS = {"warn": ("Warn", "Audit"), "deny": ("Deny", "Audit")}


def _policy_dir(env: _Env, local_dir: Path) -> str:
    """REPLICA_LEDGER_POLICY_DIR: a local folder (made absolute) or gs://BUCKET[/PREFIX].
    Production's default is the archive bucket's `policies/` (set in `_with_gcp`)."""
    raw = env.text(POLICY_DIR_VAR)
    if raw.startswith(GCS_SCHEME):
        bucket = raw.removeprefix(GCS_SCHEME).split("/", 1)[0]
        if not bucket:
            raise env.error(f"{POLICY_DIR_VAR}={raw!r} names no bucket")
        return raw.rstrip("/")
    if "://" in raw:
        raise env.error(f"{POLICY_DIR_VAR}={raw!r}: expected a local folder or gs://BUCKET/PREFIX")
    if not raw and env.text(ENV_VAR) == "gcp":
        return ""
    return str(env.path(POLICY_DIR_VAR, local_dir / "policies"))


def _policy_actions(env: _Env, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.text(POLICY_ACTIONS_VAR)
    if not raw:
        return default
    actions = POLICY_ACTIONS.get(raw.lower())
    if actions is None:
        raise env.error(
            f"{POLICY_ACTIONS_VAR}={raw!r}: expected Warn (validationActions Warn, Audit) or Deny (Deny, Audit)"
        )
    return actions


def _http_url(env: _Env, name: str) -> str | None:
    """An optional http(s) URL base (its trailing `/` dropped)."""
    url = env.optional(name)
    if url is not None and not url.startswith(("https://", "http://")):
        raise env.error(f"{name}={url!r} is not an http(s) URL")
    return url.rstrip("/") if url else None


def _statements_dir(env: _Env, bucket: str) -> str:
    """Production's statements go to GCS: gs://BUCKET/PREFIX, by default the bucket's
    `statements/`. A local path there would be a worker's disk that no team reads."""
    raw = env.text(STATEMENTS_DIR_VAR)
    if not raw:
        return f"gs://{bucket}/statements"
    if not raw.startswith("gs://") or not raw.removeprefix("gs://").strip("/"):
        raise env.error(f"{STATEMENTS_DIR_VAR}={raw!r}: with {ENV_VAR}=gcp statements go to gs://BUCKET/PREFIX")
    return raw.rstrip("/")


def _deploy_grace_hours(env: _Env, default: int) -> int:
    return env.integer(DEPLOY_GRACE_HOURS_VAR, default, 0, 24 * 31, "hours; 0 turns the grace off")


def _ped_url_template(env: _Env) -> str | None:
    """The template, checked now: an unknown or malformed placeholder would fail every alert."""
    template = env.optional(PED_URL_TEMPLATE_VAR)
    if template is None:
        return None
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        raise env.error(f"{PED_URL_TEMPLATE_VAR}={template!r} is not a URL template ({exc})") from None
    unknown = sorted(names - set(PED_URL_FIELDS))
    if unknown:
        raise env.error(
            f"{PED_URL_TEMPLATE_VAR}={template!r}: unknown placeholder(s) {unknown};"
            " a URL template takes {namespace} and {deployment}"
        )
    if not template.startswith(("https://", "http://")):
        raise env.error(f"{PED_URL_TEMPLATE_VAR}={template!r} is not an http(s) URL")
    return template


def _with_gcp(settings: Settings, env: _Env) -> Settings:
    """Settings with its production part, validated (REPLICA_LEDGER_ENV=gcp)."""
    from dataclasses import replace

    missing = [name for name in GCP_REQUIRED if not env.text(name)]
    if missing:
        raise GcpSettingsError(f"{ENV_VAR}=gcp needs {', '.join(missing)} (see docs/deploy-composer.md)")
    mode = env.text(POD_MODE_VAR, "composer")
    if mode not in POD_MODES:
        raise GcpSettingsError(f"{POD_MODE_VAR}={mode!r}: expected one of {', '.join(POD_MODES)}")
    gke = mode == "gke"
    gcp = GcpSettings(
        bucket=env.text(GCS_BUCKET_VAR).removeprefix("gs://").strip("/"),
        collector_image=env.text(COLLECTOR_IMAGE_VAR),
        snapshot_prefix=env.text(GCS_SNAPSHOT_PREFIX_VAR, GcpSettings.snapshot_prefix).strip("/"),
        gcp_conn_id=env.text(GCP_CONN_ID_VAR, GcpSettings.gcp_conn_id),
        impersonation_chain=env.csv(IMPERSONATION_CHAIN_VAR, GcpSettings.impersonation_chain),
        pod_mode=mode,
        pod_namespace=env.text(POD_NAMESPACE_VAR, "replica-ledger" if gke else COMPOSER_NAMESPACE),
        kube_config_file=env.text(KUBE_CONFIG_FILE_VAR, COMPOSER_KUBE_CONFIG),
        pod_service_account=env.text(POD_SERVICE_ACCOUNT_VAR, "replica-ledger-collector" if gke else "default"),
        kubeconfig_secret=env.text(COLLECTOR_KUBECONFIG_SECRET_VAR),
        kubeconfig_secret_key=env.text(COLLECTOR_KUBECONFIG_KEY_VAR, GcpSettings.kubeconfig_secret_key),
        gke_location=env.text(GKE_LOCATION_VAR),
        gke_project=env.text(GKE_PROJECT_VAR, settings.gcp_project),
        pod_cpu=env.text(POD_CPU_VAR, GcpSettings.pod_cpu),
        pod_memory=env.text(POD_MEMORY_VAR, GcpSettings.pod_memory),
        pod_ephemeral_storage=env.text(POD_EPHEMERAL_STORAGE_VAR, GcpSettings.pod_ephemeral_storage),
        pod_startup_timeout_seconds=env.integer(
            POD_STARTUP_TIMEOUT_SECONDS_VAR, GcpSettings.pod_startup_timeout_seconds, 1, 86_400, "seconds"
        ),
        pod_timeout_seconds=env.integer(POD_TIMEOUT_SECONDS_VAR, GcpSettings.pod_timeout_seconds, 1, 86_400, "seconds"),
    )
    if not settings.clusters:
        raise GcpSettingsError(f"{CLUSTERS_VAR} is empty: name the clusters to snapshot (comma-separated)")
    if not gke and not gcp.kubeconfig_secret:
        raise GcpSettingsError(
            f"{POD_MODE_VAR}=composer needs {COLLECTOR_KUBECONFIG_SECRET_VAR}: the pods run in "
            "the environment's cluster and reach the snapshotted clusters through that kubeconfig "
            f"(or use {POD_MODE_VAR}=gke to run them in-cluster in each target cluster)"
        )
    if gke and not gcp.gke_location:
        raise GcpSettingsError(f"{POD_MODE_VAR}=gke needs {GKE_LOCATION_VAR} (region or zone)")
    # Production writes the policy folders to GCS, never to the worker's disk.
    policy_dir = settings.policy_dir or f"{GCS_SCHEME}{gcp.bucket}/policies"
    if not policy_dir.startswith(GCS_SCHEME):
        raise GcpSettingsError(
            f"{POLICY_DIR_VAR}={policy_dir!r}: {ENV_VAR}=gcp writes the policy folders to gs://BUCKET/PREFIX"
        )
    return replace(settings, gcp=gcp, policy_dir=policy_dir, statements_dir=_statements_dir(env, gcp.bucket))


# --------------------------------------------------------------------------- names and commands


def known_variables() -> frozenset[str]:
    """Every ``REPLICA_LEDGER_*`` name the product or its tooling reads: ours, the PED CLI's
    bounds, the collector's tunables, dbt's run window, the clock override, the tooling's."""
    from replica_ledger.clock import NOW_VAR
    from replica_ledger.collector.settings import VARIABLES as COLLECTOR_VARIABLES
    from replica_ledger.ped.schema import Limits

    return frozenset(
        (
            *VARIABLES,
            NOW_VAR,
            *TOOLING_VARIABLES,
            *COLLECTOR_VARIABLES,
            *RUN_WINDOW_ENV.values(),
            *Limits.ENV.values(),
        )
    )


def unknown_variable_problem(names: Iterable[str], known: Collection[str], prefix: str = PREFIX) -> str | None:
    """What is wrong with the ``prefix*`` names among ``names`` that are not ``known`` (each
    with the closest known name, when one is close), or None."""
    unknown = sorted(name for name in names if name.startswith(prefix) and name not in known)
    if not unknown:
        return None
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        parts.append(f"{name} (did you mean {close[0]}?)" if close else name)
    what = "is not a replica-ledger setting" if len(unknown) == 1 else "are not replica-ledger settings"
    return f"{', '.join(parts)} {what}: a mistyped name would be ignored silently"


def check_variable_names(environ: Mapping[str, str]) -> None:
    """SettingsError when the environment holds a ``REPLICA_LEDGER_*`` name nothing reads."""
    problem = unknown_variable_problem(environ, known_variables())
    if problem:
        raise SettingsError(problem)

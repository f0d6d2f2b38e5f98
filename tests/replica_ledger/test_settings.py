"""Settings: every variable reaches its field, each default is written once, the production
part is validated, and nothing else in the product reads the environment."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from replica_ledger import settings as names
from replica_ledger.dbt_runner import build_vars, dbt_environment
from replica_ledger.settings import (
    VARIABLES,
    GcpSettings,
    GcpSettingsError,
    Settings,
    SettingsError,
    load_settings,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "include" / "replica_ledger"

GCP_ENV = {
    names.ENV_VAR: "gcp",
    names.GCP_PROJECT_VAR: "prod-project",
    names.GCS_BUCKET_VAR: "gs://prod-bucket/",
    names.COLLECTOR_IMAGE_VAR: "europe-docker.pkg.dev/prod-project/replica-ledger/collector:1.0.0",
    names.CLUSTERS_VAR: "gke-eu, gke-us",
    names.COLLECTOR_KUBECONFIG_SECRET_VAR: "replica-ledger-kubeconfig",
}

# variable -> (value set, where to read it, expected value). The production part's variables
# are read with GCP_ENV around them.
CASES = {
    names.ENV_VAR: ("gcp", lambda s: s.env, "gcp"),
    names.LOCAL_DIR_VAR: ("/srv/ledger", lambda s: s.duckdb_path, Path("/srv/ledger/warehouse.duckdb")),
    names.ARCHIVE_DIR_VAR: ("/srv/archive", lambda s: s.archive_dir, Path("/srv/archive")),
    names.PED_CHANGES_VAR: ("/srv/ped.jsonl", lambda s: s.ped_changes, Path("/srv/ped.jsonl")),
    names.AUDIT_LOG_VAR: ("/srv/audit", lambda s: s.audit_log, Path("/srv/audit")),
    names.DUCKDB_VAR: ("/srv/w.duckdb", lambda s: s.duckdb_path, Path("/srv/w.duckdb")),
    names.SLACK_OUTBOX_VAR: ("/srv/outbox", lambda s: s.slack_outbox, Path("/srv/outbox")),
    names.DBT_PROJECT_DIR_VAR: ("/srv/dbt", lambda s: s.dbt_project_dir, Path("/srv/dbt")),
    names.DBT_TARGET_VAR: ("bigquery", lambda s: s.dbt_target, "bigquery"),
    names.DBT_DAILY_TESTS_VAR: ("false", lambda s: s.dbt_daily_tests, False),
    names.DBT_LOG_LEVEL_FILE_VAR: ("debug", lambda s: s.dbt_log_level_file, "debug"),
    names.DBT_DOCS_DIR_VAR: ("/srv/docs", lambda s: s.dbt_docs_dir, Path("/srv/docs")),
    names.DOCS_URL_VAR: ("https://docs.example", lambda s: s.docs_url, "https://docs.example"),
    names.DOCS_GCS_URL_VAR: ("gs://b/docs", lambda s: s.docs_gcs_url, "gs://b/docs"),
    names.STATEMENTS_DIR_VAR: ("gs://bills/statements/", lambda s: s.statements_dir, "gs://bills/statements"),
    names.STATEMENTS_URL_VAR: ("https://bills.example/", lambda s: s.statements_url, "https://bills.example"),
    names.CLUSTERS_VAR: ("a, b,", lambda s: s.clusters, ("a", "b")),
    names.EXCLUDED_NAMESPACES_VAR: ("kube-system", lambda s: s.excluded_namespaces, ("kube-system",)),
    names.ALERT_MAX_AGE_DAYS_VAR: ("5", lambda s: s.alert_max_age_days, 5),
    names.DEPLOY_GRACE_HOURS_VAR: ("6", lambda s: s.deploy_grace_hours, 6),
    names.PED_URL_TEMPLATE_VAR: (
        "https://git.example/ped/-/tree/main/{namespace}/{deployment}",
        lambda s: s.ped_url_template,
        "https://git.example/ped/-/tree/main/{namespace}/{deployment}",
    ),
    names.LIVE_TOLERANCE_DAYS_VAR: ("3", lambda s: s.live_snapshot_tolerance_days, 3),
    names.KUBECONFIG_VAR: ("/srv/kubeconfig", lambda s: s.kubeconfig, "/srv/kubeconfig"),
    names.WAREHOUSE_POOL_VAR: ("bq_pool", lambda s: s.warehouse_pool, "bq_pool"),
    names.SLACK_CONN_ID_VAR: ("slack_prod", lambda s: s.slack_conn_id, "slack_prod"),
    names.RETRIES_VAR: ("4", lambda s: s.retries, 4),
    names.RETRY_DELAY_SECONDS_VAR: ("60", lambda s: s.retry_delay_seconds, 60),
    names.LOOKBACK_DAYS_VAR: ("3", lambda s: s.lookback_days, 3),
    names.CAPTURE_DEADLINE_HOURS_VAR: ("4", lambda s: s.capture_deadline_hours, 4),
    names.ALLOW_EMPTY_REGISTRY_VAR: ("true", lambda s: s.allow_empty_registry, True),
    names.CURRENCY_VAR: ("USD", lambda s: s.currency, "USD"),
    names.GCP_PROJECT_VAR: ("p1", lambda s: s.gcp_project, "p1"),
    names.RAW_SCHEMA_VAR: ("raw_x", lambda s: s.raw_dataset, "raw_x"),
    names.BQ_DATASET_VAR: ("marts_x", lambda s: s.dataset, "marts_x"),
    names.BQ_LOCATION_VAR: ("europe-west1", lambda s: s.bq_location, "europe-west1"),
    names.BQ_API_ENDPOINT_VAR: ("http://127.0.0.1:9050", lambda s: s.bq_api_endpoint, "http://127.0.0.1:9050"),
    names.PED_PROJECT_VAR: ("ped-p", lambda s: s.ped_project, "ped-p"),
    names.PED_DATASET_VAR: ("ped_d", lambda s: s.ped_dataset, "ped_d"),
    names.PED_TABLE_NAME_VAR: ("ped_t", lambda s: s.ped_table_name, "ped_t"),
    names.GCS_BUCKET_VAR: ("gs://other-bucket", lambda s: s.gcp.bucket, "other-bucket"),
    names.GCS_SNAPSHOT_PREFIX_VAR: ("/a/snapshots/", lambda s: s.gcp.snapshot_prefix, "a/snapshots"),
    names.COLLECTOR_IMAGE_VAR: ("img:2", lambda s: s.gcp.collector_image, "img:2"),
    names.GCP_CONN_ID_VAR: ("gcp_prod", lambda s: s.gcp.gcp_conn_id, "gcp_prod"),
    names.IMPERSONATION_CHAIN_VAR: (
        " lead@p.iam.gserviceaccount.com, ledger@p.iam.gserviceaccount.com ",
        lambda s: s.gcp.impersonation_chain,
        ("lead@p.iam.gserviceaccount.com", "ledger@p.iam.gserviceaccount.com"),
    ),
    names.POD_MODE_VAR: ("composer", lambda s: s.gcp.pod_mode, "composer"),
    names.POD_NAMESPACE_VAR: ("ns", lambda s: s.gcp.pod_namespace, "ns"),
    names.KUBE_CONFIG_FILE_VAR: ("/k", lambda s: s.gcp.kube_config_file, "/k"),
    names.POD_SERVICE_ACCOUNT_VAR: ("sa", lambda s: s.gcp.pod_service_account, "sa"),
    names.COLLECTOR_KUBECONFIG_SECRET_VAR: ("sec", lambda s: s.gcp.kubeconfig_secret, "sec"),
    names.COLLECTOR_KUBECONFIG_KEY_VAR: ("config", lambda s: s.gcp.kubeconfig_secret_key, "config"),
    names.GKE_LOCATION_VAR: ("europe-west1", lambda s: s.gcp.gke_location, "europe-west1"),
    names.GKE_PROJECT_VAR: ("gke-p", lambda s: s.gcp.gke_project, "gke-p"),
    names.POD_CPU_VAR: ("1", lambda s: s.gcp.pod_cpu, "1"),
    names.POD_MEMORY_VAR: ("1Gi", lambda s: s.gcp.pod_memory, "1Gi"),
    names.POD_EPHEMERAL_STORAGE_VAR: ("2Gi", lambda s: s.gcp.pod_ephemeral_storage, "2Gi"),
    names.POD_STARTUP_TIMEOUT_SECONDS_VAR: ("30", lambda s: s.gcp.pod_startup_timeout_seconds, 30),
    names.POD_TIMEOUT_SECONDS_VAR: ("90", lambda s: s.gcp.pod_timeout_seconds, 90),
    names.POLICY_DIR_VAR: ("gs://b/policies/", lambda s: s.policy_dir, "gs://b/policies"),
    names.POLICY_ACTIONS_VAR: ("deny", lambda s: s.policy_actions, ("Deny", "Audit")),
    names.POLICY_APPLY_VAR: ("true", lambda s: s.policy_apply, True),
    names.POLICY_APPLY_IMAGE_VAR: ("kubectl:1", lambda s: s.policy_apply_image, "kubectl:1"),
    names.POLICY_APPLY_SERVICE_ACCOUNT_VAR: ("sa-apply", lambda s: s.policy_apply_service_account, "sa-apply"),
}


def test_every_variable_has_a_case():
    assert set(CASES) == set(VARIABLES)


@pytest.mark.parametrize(("raw", "expected"), [("", True), ("true", True), ("ON", True), ("0", False), ("no", False)])
def test_daily_tests_is_a_boolean(raw, expected):
    assert load_settings({names.DBT_DAILY_TESTS_VAR: raw}).dbt_daily_tests is expected


def test_a_malformed_boolean_names_its_variable():
    with pytest.raises(SettingsError, match="REPLICA_LEDGER_DBT_DAILY_TESTS='maybe' is not a boolean"):
        load_settings({names.DBT_DAILY_TESTS_VAR: "maybe"})


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_variable_reaches_its_field(name):
    value, read, expected = CASES[name]
    assert read(load_settings({**GCP_ENV, name: value})) == expected


@pytest.mark.parametrize("raw", ["-1", "seven", "1.5"])
def test_lookback_days_is_an_integer_of_zero_or_more(raw):
    with pytest.raises(SettingsError, match="REPLICA_LEDGER_LOOKBACK_DAYS"):
        load_settings({names.LOOKBACK_DAYS_VAR: raw})


def test_lookback_days_zero_is_allowed():
    assert load_settings({names.LOOKBACK_DAYS_VAR: "0"}).lookback_days == 0


def test_the_capture_deadline_is_on_in_production_and_off_locally_by_default():
    assert load_settings(GCP_ENV).capture_deadline_hours == names.GCP_CAPTURE_DEADLINE_HOURS > 0
    assert load_settings({}).capture_deadline_hours == 0
    assert load_settings({**GCP_ENV, names.CAPTURE_DEADLINE_HOURS_VAR: "0"}).capture_deadline_hours == 0


@pytest.mark.parametrize("raw", ["-1", "24", "six", "1.5"])
def test_the_capture_deadline_is_hours_within_the_window(raw):
    with pytest.raises(SettingsError, match="REPLICA_LEDGER_CAPTURE_DEADLINE_HOURS"):
        load_settings({names.CAPTURE_DEADLINE_HOURS_VAR: raw})


@pytest.mark.parametrize("raw", ["-1", "twelve", "1.5"])
def test_deploy_grace_hours_is_an_integer_of_zero_or_more(raw):
    with pytest.raises(SettingsError, match="REPLICA_LEDGER_DEPLOY_GRACE_HOURS"):
        load_settings({names.DEPLOY_GRACE_HOURS_VAR: raw})


def test_deploy_grace_defaults_to_12_hours_and_reaches_dbt():
    assert load_settings({}).deploy_grace_hours == 12
    assert json.loads(build_vars(load_settings({names.DEPLOY_GRACE_HOURS_VAR: "0"})))["deploy_grace_hours"] == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("https://git.example/ped/{team}/{deployment}", "unknown placeholder"),
        ("https://git.example/ped/{namespace", "not a URL template"),
        ("https://git.example/ped/{0}", "unknown placeholder"),
        ("git.example/ped/{namespace}/{deployment}", "not an http"),
    ],
)
def test_a_malformed_ped_url_template_names_its_variable(raw, message):
    with pytest.raises(SettingsError, match=message):
        load_settings({names.PED_URL_TEMPLATE_VAR: raw})


def test_no_ped_url_template_means_no_link():
    assert load_settings({}).ped_url_template is None


def test_variables_lists_every_name_settings_py_spells():
    source = (PACKAGE / "settings.py").read_text()
    # Ours, plus dbt's own DBT_LOG_LEVEL_FILE (read here so that Settings stays the one reader).
    # And the tooling's names, known so that a mistyped name can be told from them, and the
    # run window's names (dbt reads them; the runner sets them).
    spelled = set(re.findall(r'"((?:REPLICA_LEDGER|DBT)_[A-Z0-9_]+)"', source))
    assert spelled == set(VARIABLES) | set(names.TOOLING_VARIABLES) | set(names.RUN_WINDOW_ENV.values())


def test_an_empty_environment_gives_the_defaults():
    assert load_settings({}) == Settings()
    assert load_settings({}).gcp is None


# (The dbt dataset's default, "replica_ledger", is also the package's name: not greppable.)
@pytest.mark.parametrize("literal", [names.DEFAULT_RAW_DATASET, names.DEFAULT_BQ_LOCATION, "duckdb_writer"])
def test_each_default_is_written_once_in_python(literal):
    """profiles.yml keeps its env_var fallbacks for hand runs; Python spells a default once."""
    python_files = [*PACKAGE.rglob("*.py"), *(REPO_ROOT / "dags").glob("*.py"), *(REPO_ROOT / "scripts").glob("*.py")]
    spelled = [path for path in python_files if f'"{literal}"' in path.read_text()]
    assert spelled == [PACKAGE / "settings.py"]


@pytest.mark.parametrize(
    ("name", "error"),
    [(names.RETRIES_VAR, SettingsError), (names.POD_TIMEOUT_SECONDS_VAR, GcpSettingsError)],
)
def test_a_malformed_integer_names_its_variable(name, error):
    with pytest.raises(error, match=name):
        load_settings({**GCP_ENV, name: "ten"})


@pytest.mark.parametrize("missing", [names.GCP_PROJECT_VAR, names.GCS_BUCKET_VAR, names.COLLECTOR_IMAGE_VAR])
def test_gcp_names_what_is_missing(missing):
    with pytest.raises(GcpSettingsError, match=missing):
        load_settings({name: value for name, value in GCP_ENV.items() if name != missing})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({names.CLUSTERS_VAR: ""}, names.CLUSTERS_VAR),
        ({names.COLLECTOR_KUBECONFIG_SECRET_VAR: ""}, names.COLLECTOR_KUBECONFIG_SECRET_VAR),
        ({names.POD_MODE_VAR: "gke"}, names.GKE_LOCATION_VAR),
        ({names.POD_MODE_VAR: "serverless"}, "expected one of composer, gke"),
    ],
)
def test_gcp_validation(override, message):
    with pytest.raises(GcpSettingsError, match=message):
        load_settings({**GCP_ENV, **override})


def test_gcp_part_only_when_env_is_gcp():
    """Locally the production variables may be set (the BigQuery emulator tests): no GCP part."""
    assert load_settings({**GCP_ENV, names.ENV_VAR: "local"}).gcp is None


def test_gke_mode_defaults_to_in_cluster_names():
    gke = load_settings({**GCP_ENV, names.POD_MODE_VAR: "gke", names.GKE_LOCATION_VAR: "europe-west1"}).gcp
    assert (gke.pod_namespace, gke.pod_service_account, gke.gke_project) == (
        "replica-ledger",
        "replica-ledger-collector",
        "prod-project",
    )
    composer = load_settings(GCP_ENV).gcp
    assert composer == GcpSettings(
        bucket="prod-bucket",
        collector_image=GCP_ENV[names.COLLECTOR_IMAGE_VAR],
        kubeconfig_secret="replica-ledger-kubeconfig",
        gke_project="prod-project",
    )
    assert composer.snapshot_root == "gs://prod-bucket/snapshots"


def test_dbt_gets_the_bigquery_names_from_settings():
    bq = load_settings({names.DBT_TARGET_VAR: "bigquery", names.GCP_PROJECT_VAR: "p1"})
    env = dbt_environment(bq)
    assert (env[names.RAW_SCHEMA_VAR], env[names.BQ_DATASET_VAR], env[names.BQ_LOCATION_VAR]) == (
        names.DEFAULT_RAW_DATASET,
        names.DEFAULT_DATASET,
        names.DEFAULT_BQ_LOCATION,
    )
    assert env[names.GCP_PROJECT_VAR] == "p1"
    # DuckDB's raw schema is `raw` (profiles.yml): the BigQuery names are not passed there.
    assert names.RAW_SCHEMA_VAR not in dbt_environment(load_settings({}))


def test_dbt_log_file_keeps_info_unless_dbt_s_own_variable_says_otherwise():
    assert dbt_environment(load_settings({}))["DBT_LOG_LEVEL_FILE"] == "info"
    assert dbt_environment(load_settings({"DBT_LOG_LEVEL_FILE": "debug"}))["DBT_LOG_LEVEL_FILE"] == "debug"


# Readers of the environment that are not the DAG side's configuration: the collector and
# the PED CLI run alone (their own readers); dbt_runner hands the settings to dbt through
# the environment; airflow/slack.py asks whether Airflow has a connection as an env var; the
# clock reads its test override (the collector's image has it, not settings.py).
OWN_READERS = {"settings.py", "dbt_runner.py", "airflow/slack.py", "clock.py"}
OWN_PACKAGES = ("collector/", "ped/")


def test_settings_is_the_only_reader_of_the_environment():
    readers = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if re.search(r"os\.environ|getenv", path.read_text())
    )
    others = [path for path in readers if path not in OWN_READERS and not path.startswith(OWN_PACKAGES)]
    assert others == []


def test_settings_fields_are_all_loaded():
    """A field load_settings forgets would silently keep its default."""
    loaded = load_settings({**GCP_ENV, **{name: case[0] for name, case in CASES.items()}})
    defaults = Settings()
    unchanged = [f.name for f in fields(Settings) if getattr(loaded, f.name) == getattr(defaults, f.name)]
    assert unchanged == []


def test_statements_go_to_a_local_folder_locally_and_to_gcs_in_production():
    assert load_settings({names.LOCAL_DIR_VAR: "/srv/ledger"}).statements_dir == "/srv/ledger/statements"
    assert load_settings({names.STATEMENTS_DIR_VAR: "/srv/bills"}).statements_dir == "/srv/bills"
    # Production: the bucket's statements/ unless named, and never a worker's disk.
    bucket = GCP_ENV[names.GCS_BUCKET_VAR].removeprefix("gs://").strip("/")
    assert load_settings(GCP_ENV).statements_dir == f"gs://{bucket}/statements"
    with pytest.raises(GcpSettingsError, match=names.STATEMENTS_DIR_VAR):
        load_settings({**GCP_ENV, names.STATEMENTS_DIR_VAR: "/srv/bills"})
    with pytest.raises(SettingsError, match=names.STATEMENTS_URL_VAR):
        load_settings({names.STATEMENTS_URL_VAR: "javascript:alert(1)"})


# --------------------------------------------------------------------------- the audit source


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("bq://prod-logs.k8s_audit.cloudaudit_googleapis_com_activity", ("prod-logs", "k8s_audit")),
        ("bq://example.com:logs-1.audit.cloudaudit_googleapis_com_activity", ("example.com:logs-1", "audit")),
    ],
)
def test_the_audit_log_may_name_the_sinks_bigquery_table(raw, expected):
    table = load_settings({names.AUDIT_LOG_VAR: raw}).audit_log
    assert isinstance(table, names.AuditTable)
    assert (table.project, table.dataset, table.table) == (*expected, "cloudaudit_googleapis_com_activity")
    assert str(table) == raw
    assert table.table_id == raw.removeprefix("bq://")


@pytest.mark.parametrize(
    "raw",
    [
        "bq://prod-logs.k8s_audit",  # no table
        "bq://Prod.k8s_audit.activity",  # a project id is lowercase, 6 to 30 characters
        "bq://prod-logs.k8s_audit.activity` WHERE true --",  # nothing but a table name reaches the FROM
        "bq://prod-logs.k8s-audit.activity",  # a dataset has no hyphen
        "gs://bucket/audit/",  # not a local path either
    ],
)
def test_a_malformed_audit_table_names_its_variable(raw):
    with pytest.raises(SettingsError, match="REPLICA_LEDGER_AUDIT_LOG"):
        load_settings({names.AUDIT_LOG_VAR: raw})


def test_an_audit_table_cannot_be_built_around_the_pattern():
    with pytest.raises(ValueError, match="not a BigQuery table name"):
        names.AuditTable("prod-logs", "k8s_audit", "activity`; drop table x; --")


def test_the_policy_folder_is_local_by_default_and_in_the_bucket_in_production(tmp_path):
    assert load_settings({names.LOCAL_DIR_VAR: str(tmp_path)}).policy_dir == str(tmp_path / "policies")
    assert load_settings(GCP_ENV).policy_dir == "gs://prod-bucket/policies"


def test_production_refuses_a_local_policy_folder_and_apply_refuses_a_local_run(tmp_path):
    with pytest.raises(GcpSettingsError, match=r"REPLICA_LEDGER_POLICY_DIR=.*writes the policy folders to gs://"):
        load_settings({**GCP_ENV, names.POLICY_DIR_VAR: str(tmp_path)})
    with pytest.raises(SettingsError, match="REPLICA_LEDGER_POLICY_APPLY=true needs REPLICA_LEDGER_ENV=gcp"):
        load_settings({names.POLICY_APPLY_VAR: "true"})


@pytest.mark.parametrize("raw", ["Deny,Warn", "audit", "block"])
def test_policy_actions_are_warn_or_deny(raw):
    with pytest.raises(SettingsError, match="REPLICA_LEDGER_POLICY_ACTIONS"):
        load_settings({names.POLICY_ACTIONS_VAR: raw})

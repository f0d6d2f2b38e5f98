"""`dbt compile --target bigquery` offline: the SQL parses as BigQuery and prunes partitions.

No network: the profile's oauth method finds a dummy service-account key through
GOOGLE_APPLICATION_CREDENTIALS (made here, never used to sign anything), compile runs
with --no-introspect --no-populate-cache so no query or metadata call is made, and any
stray HTTP(S) request would go to a closed port on 127.0.0.1.

Kept beside test_bigquery_emulator.py (which runs the models on dbt-bigquery against the
emulator) for what the emulator cannot show: the production `bigquery` output (oauth,
the PED table in another project), partition pruning (the emulator scans every
partition), and the filters require_partition_filter needs through views and MERGE.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = REPO_ROOT / "dbt_project"
DAY = "2026-10-11"
# The run window [DAY - LOOKBACK_DAYS, DAY] the per-day facts rebuild (macros/run_window.sql).
LOOKBACK_DAYS = 2
WINDOW = ["2026-10-09", "2026-10-10", DAY]
MONTH = "2026-10-01"
PROJECT = "acme-ledger-prod"
DUCKDB_ONLY = re.compile(
    r"\b(try_cast|to_days|to_months|generate_series|regexp_matches|datediff|unnest\(generate_series)\b|::"
)


def _dummy_key(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "0" * 40,
                "private_key": pem,
                "client_email": f"dbt-compile@{PROJECT}.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("dbt_bigquery")
    _dummy_key(work / "key.json")
    env = {name: value for name, value in os.environ.items() if not name.startswith("REPLICA_LEDGER_")}
    env.update(
        {
            "GOOGLE_APPLICATION_CREDENTIALS": str(work / "key.json"),
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "",
            "REPLICA_LEDGER_DBT_TARGET": "bigquery",
            "REPLICA_LEDGER_GCP_PROJECT": PROJECT,
            "REPLICA_LEDGER_BQ_DATASET": "ledger",
            "REPLICA_LEDGER_RAW_SCHEMA": "ledger_raw",
            "REPLICA_LEDGER_PED_PROJECT": "acme-ped-prod",
            "REPLICA_LEDGER_PED_DATASET": "ped",
            "REPLICA_LEDGER_PED_TABLE_NAME": "limit_changes",
            "REPLICA_LEDGER_DBT_LOOKBACK_DAYS": str(LOOKBACK_DAYS),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    dbt = Path(sys.executable).with_name("dbt")
    command = [
        str(dbt),
        "compile",
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", str(PROJECT_DIR),
        "--target", "bigquery",
        "--target-path", str(work / "target"),
        "--log-path", str(work / "logs"),
        "--no-partial-parse",
        "--no-populate-cache",
        "--no-introspect",
        "--vars", json.dumps({"snapshot_date": DAY, "billing_month": MONTH}),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    nodes = {
        node["unique_id"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "test") and node.get("compiled_code") is not None
    }
    return {"nodes": nodes, "manifest": manifest}


def models(compiled) -> dict[str, dict]:
    return {node["name"]: node for node in compiled["nodes"].values() if node["resource_type"] == "model"}


def test_every_compiled_node_parses_as_bigquery(compiled):
    assert len(models(compiled)) >= 15
    for unique_id, node in compiled["nodes"].items():
        sql = node["compiled_code"]
        assert not DUCKDB_ONLY.search(sql), f"{unique_id}: DuckDB-only SQL: {DUCKDB_ONLY.search(sql).group(0)}"
        statements = sqlglot.parse(sql, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
        assert [statement for statement in statements if statement is not None], unique_id


def test_incremental_facts_are_partitioned_clustered_and_overwrite_the_run_partitions(compiled):
    incremental = {
        name: node for name, node in models(compiled).items() if node["config"]["materialized"] == "incremental"
    }
    assert set(incremental) == {
        "fct_deployment_daily",
        "fct_replica_breaches",
        "fct_breach_alerts",
        "fct_limit_edits",
        "int_audit_values__monthly_peaks",
        "fct_billing_statements",
    }
    statements = incremental.pop("fct_billing_statements")["config"]
    # The statements ledger: merged on its key, never rebuilt by --full-refresh.
    assert (statements["incremental_strategy"], statements["full_refresh"]) == ("merge", False)
    assert statements["unique_key"] == ["billing_month", "namespace", "deployment", "statement_version"]
    for name, node in incremental.items():
        config = node["config"]
        assert config["incremental_strategy"] == "insert_overwrite", name
        assert config["cluster_by"] == ["namespace", "deployment"], name
    # The per-day facts, the alert model, the edits and the audited peaks overwrite every
    # day of the run window.
    read_whole = {"fct_limit_edits", "int_audit_values__monthly_peaks"}  # small: read whole by their readers
    for name in incremental:
        config = incremental[name]["config"]
        assert config["partition_by"] == {"field": "snapshot_date", "data_type": "date", "granularity": "day"}
        assert config["partitions"] == [f"cast('{day}' as date)" for day in WINDOW]
        assert config.get("require_partition_filter") is (None if name in read_whole else True), name
    assert statements["partition_by"] == {"field": "billing_month", "data_type": "date", "granularity": "month"}


def _is_day_predicate(node: exp.Expression, column: str, day: str) -> bool:
    """`column = cast('day' as date)` or a lookback range ending before it."""
    text = node.sql(dialect="bigquery").lower()
    return column in text and f"'{day}'" in text


def _reads_filtered(sql: str, source_name: str, column: str, day: str) -> bool:
    """Every select reading `source_name` has a WHERE restricting `column` to the run window."""
    tree = sqlglot.parse_one(sql, read="bigquery")
    reads = [table for table in tree.find_all(exp.Table) if table.name == source_name]
    assert reads, f"{source_name} not read"
    for table in reads:
        select = table.find_ancestor(exp.Select)
        where = select.args.get("where") if select else None
        if where is None or not _is_day_predicate(where, column, day):
            return False
    return True


@pytest.mark.parametrize(
    ("model", "big_sources"),
    [
        ("fct_deployment_daily", ["int_deployments__with_limits"]),
        # A view: its window filter (the run's day and the lookback) is what its readers prune by.
        ("int_deployments__with_limits", ["stg_k8s__deployments", "int_hpas__by_deployment"]),
        ("fct_replica_breaches", ["int_breach_conditions", "stg_k8s__snapshot_manifest"]),
        ("fct_breach_alerts", ["int_breach_conditions"]),
        # The window and the 9 days before it (the values before its edits).
        ("fct_limit_edits", ["stg_audit__workload_writes", "stg_k8s__hpas", "stg_k8s__deployments"]),
        ("int_audit_values__monthly_peaks", ["stg_audit__workload_writes"]),
    ],
)
def test_daily_facts_read_only_the_run_partitions(compiled, model, big_sources):
    sql = models(compiled)[model]["compiled_code"]
    for source in big_sources:
        assert _reads_filtered(sql, source, "snapshot_date", DAY), f"{model} reads {source} unfiltered"


def test_money_is_numeric_rounded_by_bigquery(compiled):
    """Exact money on BigQuery: NUMERIC/BIGNUMERIC and ROUND (half away from zero), no FLOAT64."""
    for name in ("int_billing_lines", "mart_monthly_billing", "fct_breach_alerts"):
        sql = models(compiled)[name]["compiled_code"].lower()
        assert "as bignumeric)" in sql and "as numeric)" in sql, name


def test_whole_table_readers_of_partition_filtered_facts_name_the_partition_column(compiled):
    """require_partition_filter: every query of the big facts carries a snapshot_date predicate.

    A view (int_breach_conditions) is checked where it is queried: BigQuery applies the rule
    to the query that reads through the view, and its readers filter on snapshot_date.
    """
    for unique_id, node in compiled["nodes"].items():
        if node["config"].get("materialized") == "view":
            continue
        sql = node["compiled_code"]
        tree = sqlglot.parse_one(sql, read="bigquery")
        for table in tree.find_all(exp.Table):
            if table.name in ("fct_deployment_daily", "fct_replica_breaches"):
                select = table.find_ancestor(exp.Select)
                where = select.args.get("where") if select else None
                assert where is not None and "snapshot_date" in where.sql(dialect="bigquery"), unique_id


def test_tests_of_partitioned_facts_check_the_run_window(compiled):
    tests = [
        node
        for node in compiled["nodes"].values()
        if node["resource_type"] == "test" and "fct_deployment_daily`" in node["compiled_code"]
    ]
    assert tests
    window = f"snapshot_date >= cast('{WINDOW[0]}' as date)\n        and snapshot_date <= cast('{DAY}' as date)"
    for node in tests:
        assert f"where {window}" in node["compiled_code"], node["unique_id"]


def test_episodes_read_stored_breaches_before_the_window_only(compiled):
    """No cap on a gap: a breach's previous snapshot day may be before the window; its rows
    come from the stored table, with a predicate on the partition column."""
    sql = models(compiled)["fct_replica_breaches"]["compiled_code"]
    assert f"where snapshot_date < cast('{WINDOW[0]}' as date)" in sql
    assert f"snapshot_date <= cast('{DAY}' as date)" in sql  # the manifest, up to the run's day


def test_sources_point_at_the_raw_dataset_and_the_ped_table(compiled):
    nodes = models(compiled)
    assert f"`{PROJECT}`.`ledger_raw`.`k8s_deployments`" in nodes["stg_k8s__deployments"]["compiled_code"]
    assert f"`{PROJECT}`.`ledger_raw`.`snapshot_manifest`" in nodes["stg_k8s__snapshot_manifest"]["compiled_code"]
    ped = nodes["stg_ped__limit_changes"]["compiled_code"]
    assert "`acme-ped-prod`.`ped`.`limit_changes`" in ped
    # The PED BigQuery table (ped/bigquery.py) is typed and has no parse_error column.
    assert "cast(null as string) as parse_error" in ped
    assert "format_timestamp('%Y-%m-%dT%H:%M:%E*SZ', changed_at, 'UTC') as changed_at" in ped

"""The data contract (CONTRACT.md) against the code: its values are written once
(replica_ledger.contract) and reach dbt through --vars; the change log's fields and the
output tables' columns it names exist in the dbt project's YAML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from replica_ledger import contract
from replica_ledger.changelog import ALWAYS_REQUIRED, FIELDS, usable
from replica_ledger.dbt_runner import build_vars
from replica_ledger.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO_ROOT / "dbt_project" / "dbt_project.yml"

# CONTRACT.md §2 "Outputs": the columns the contract requires of each table (the models may
# have more). Held against CONTRACT.md itself below whenever the spec is checked out beside
# the repository, and against the dbt YAML always.
CONTRACT_OUTPUTS = {
    "dim_replica_limits": (
        "namespace, deployment, team, min_replicas, max_replicas, cpu, memory_gb, valid_from, valid_to,"
        " is_current, change_id"
    ),
    "fct_deployment_daily": (
        "snapshot_date, captured_at, cluster, namespace, deployment, spec_replicas, status_replicas,"
        " ready_replicas, available_replicas, updated_replicas, hpa_min_replicas, hpa_max_replicas,"
        " hpa_current_replicas, hpa_desired_replicas, rollout_in_progress, approved_max_replicas"
    ),
    "fct_replica_breaches": (
        "snapshot_date, cluster, namespace, deployment, team, breach_type, observed_value, approved_max_replicas,"
        " is_new_episode"
    ),
    "mart_monthly_billing": (
        "billing_month, namespace, deployment, team, billed_max_replicas, cpu, memory_gb, amount,"
        " prorated_amount, observed_max_replicas, unapproved_exposure_amount, statement_version"
    ),
    "fct_billing_statements": (
        "billing_month, namespace, deployment, team, statement_version, billed_max_replicas, cpu, memory_gb,"
        " amount, closed_at, superseded_at, restatement_reason"
    ),
    "alert_log": (
        "snapshot_date, cluster, namespace, deployment, breach_type, episode_started_on, route, status,"
        " sent_at, message_hash"
    ),
}


def contract_md() -> Path | None:
    """The shared spec (shared/spec/CONTRACT.md) in a folder above the repository, if any."""
    for parent in REPO_ROOT.parents:
        candidate = parent / "shared" / "spec" / "CONTRACT.md"
        if candidate.is_file():
            return candidate
    return None


def columns(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def yaml_columns() -> dict[str, list[str]]:
    """Every model's and source table's documented columns, from the dbt project's YAML."""
    found: dict[str, list[str]] = {}
    for path in (REPO_ROOT / "dbt_project" / "models").rglob("*.yml"):
        document = yaml.safe_load(path.read_text()) or {}
        for model in document.get("models") or []:
            found[model["name"]] = [column["name"] for column in model.get("columns") or []]
        for source in document.get("sources") or []:
            for table in source.get("tables") or []:
                found[table["name"]] = [column["name"] for column in table.get("columns") or []]
    return found


def project_vars() -> dict:
    return yaml.safe_load(DBT_PROJECT.read_text())["vars"]


def test_build_vars_hands_dbt_the_contract_and_the_configured_scope():
    settings = Settings(excluded_namespaces=("kube-system", "team-sandbox-*"))
    payload = json.loads(build_vars(settings, snapshot_date="2026-10-07", billing_month=None))
    assert payload == {
        "platform_min_replicas": 2,
        "platform_max_replicas": 8,
        "default_min_replicas": 2,
        "max_pod_cpu": 1024,
        "max_pod_memory_gb": 65536,
        "breach_types": ["replicas_over_limit", "hpa_max_over_limit", "unregistered_deployment", "intraday_over_limit"],
        "excluded_namespaces": ["kube-system", "team-sandbox-*"],
        "deploy_grace_hours": 12,
        "snapshot_date": "2026-10-07",
    }


def test_dbt_project_fallbacks_equal_the_contract():
    """dbt run by hand (no --vars) must apply the same rules as the pipeline."""
    declared = project_vars()
    for name, value in contract.dbt_vars().items():
        assert declared[name] == value, name
    assert tuple(declared["excluded_namespaces"]) == contract.DEFAULT_EXCLUDED_NAMESPACES
    assert Settings().excluded_namespaces == contract.DEFAULT_EXCLUDED_NAMESPACES


def test_change_log_fields_are_the_raw_table_columns_and_the_required_ones_a_subset():
    source = yaml_columns()["ped_limit_changes"]
    assert [name for name in source if name in FIELDS] == list(FIELDS)
    assert set(contract.CHANGE_LOG_REQUIRED_FIELDS) <= set(FIELDS)
    assert set(ALWAYS_REQUIRED) == {"change_id", "namespace", "deployment", "changed_at", "action"}


@pytest.mark.parametrize("table", sorted(CONTRACT_OUTPUTS))
def test_every_contract_column_is_a_column_of_its_dbt_model(table):
    documented = yaml_columns()[table]
    missing = [name for name in columns(CONTRACT_OUTPUTS[table]) if name not in documented]
    assert missing == [], f"{table} lacks the contract's columns {missing}"


def test_the_contract_document_names_the_same_fields_and_columns():
    """CONTRACT.md parsed: §1.2's field table is the change log's FIELDS, and §2 lists the
    columns of CONTRACT_OUTPUTS (so a column dropped from the spec or from here is seen)."""
    path = contract_md()
    if path is None:
        pytest.skip("shared/spec/CONTRACT.md is not checked out above the repository")
    text = path.read_text()
    section_1_2 = text[text.index("### 1.2") : text.index("## 2.")]
    fields = re.findall(r"^\| (\w+) \| [^|]+ \| [^|]+ \|$", section_1_2, flags=re.MULTILINE)
    assert tuple(name for name in fields if name != "field") == FIELDS
    section_2 = re.sub(r"\s+", " ", text[text.index("## 2.") : text.index("## 3.")])
    for table, expected in CONTRACT_OUTPUTS.items():
        listed = re.search(rf"`{table}` — .*?: `([^`]+)`", section_2)
        assert listed is not None, table
        # "billing_month (date, first day of month)": the type note is not a column
        assert columns(re.sub(r" \([^)]*\)", "", listed.group(1))) == columns(expected), table


def test_the_replica_bounds_decide_which_change_rows_count():
    row = {
        "change_id": "c1",
        "namespace": "shop",
        "deployment": "api",
        "cpu": 1,
        "memory_gb": 2,
        "changed_at": "2026-10-01T00:00:00Z",
        "action": "upsert",
    }
    low, high = contract.PLATFORM_MIN_REPLICAS, contract.PLATFORM_MAX_REPLICAS
    assert usable({**row, "max_replicas": low}) and usable({**row, "max_replicas": high})
    assert not usable({**row, "max_replicas": high + 1})
    assert not usable({**row, "max_replicas": low - 1, "min_replicas": low - 1})
    assert usable({**row, "action": "delete"})  # a delete needs no limits

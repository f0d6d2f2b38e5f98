"""The contract's values are written once (replica_ledger.contract) and reach dbt through --vars."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from replica_ledger import contract
from replica_ledger.changelog import ALWAYS_REQUIRED, FIELDS, usable
from replica_ledger.dbt_runner import build_vars
from replica_ledger.settings import Settings

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml"


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


def test_change_log_fields_and_required_fields_are_the_contracts():
    assert FIELDS == contract.CHANGE_LOG_FIELDS
    assert set(contract.CHANGE_LOG_REQUIRED_FIELDS) <= set(FIELDS)
    assert set(ALWAYS_REQUIRED) == {"change_id", "namespace", "deployment", "changed_at", "action"}


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

"""The raw tables' columns, their order and types: one list for both warehouses and the NDJSON files.

The dbt sources read these tables: the sources YAML of each folder under
dbt_project/models/staging/ names the same columns in the same order
(tests/replica_ledger/raw/test_schema.py holds them together). Types are DuckDB's names;
the BigQuery load schema maps them (warehouse.bigquery.BQ_TYPES).
"""

from __future__ import annotations

# How raw.ndjson writes TIMESTAMP values (naive UTC), and how the DuckDB load reads them.
NDJSON_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

RAW_TABLES: dict[str, dict[str, str]] = {
    "k8s_deployments": {
        "snapshot_date": "DATE",
        "cluster": "VARCHAR",
        "captured_at": "TIMESTAMP",
        "namespace": "VARCHAR",
        "deployment": "VARCHAR",
        "uid": "VARCHAR",
        "team_label": "VARCHAR",
        "generation": "BIGINT",
        "observed_generation": "BIGINT",
        "spec_replicas": "BIGINT",
        "status_replicas": "BIGINT",
        "ready_replicas": "BIGINT",
        "available_replicas": "BIGINT",
        "updated_replicas": "BIGINT",
        "unavailable_replicas": "BIGINT",
        "max_surge": "VARCHAR",
    },
    "k8s_hpas": {
        "snapshot_date": "DATE",
        "cluster": "VARCHAR",
        "captured_at": "TIMESTAMP",
        "namespace": "VARCHAR",
        "hpa": "VARCHAR",
        "api_version": "VARCHAR",
        "target_kind": "VARCHAR",
        "target_name": "VARCHAR",
        "min_replicas": "BIGINT",
        "max_replicas": "BIGINT",
        "current_replicas": "BIGINT",
        "desired_replicas": "BIGINT",
    },
    "k8s_rejects": {
        "snapshot_date": "DATE",
        "cluster": "VARCHAR",
        "item_index": "BIGINT",
        "kind": "VARCHAR",
        "reason": "VARCHAR",
        "item_json": "VARCHAR",
    },
    "snapshot_manifest": {
        "snapshot_date": "DATE",
        "cluster": "VARCHAR",
        "status": "VARCHAR",
        "captured_at": "TIMESTAMP",
        "source_uri": "VARCHAR",
        "source_sha256": "VARCHAR",
        "deployment_count": "BIGINT",
        "hpa_count": "BIGINT",
        "rejected_count": "BIGINT",
        "error": "VARCHAR",
    },
    # The Kubernetes audit log (replica_ledger.audit): one row per write to a Deployment or
    # HPA in scope, and the entries that could not be read. snapshot_date = the day loaded
    # under (the write's UTC day, or its dt= folder): the load day key of every day table.
    "k8s_audit_events": {
        "snapshot_date": "DATE",
        "audit_id": "VARCHAR",
        "changed_at": "TIMESTAMP",
        "cluster": "VARCHAR",
        "namespace": "VARCHAR",
        "object_kind": "VARCHAR",
        "object_name": "VARCHAR",
        "deployment": "VARCHAR",
        "method": "VARCHAR",
        "verb": "VARCHAR",
        "subresource": "VARCHAR",
        "principal": "VARCHAR",
        "user_agent": "VARCHAR",
        "tool": "VARCHAR",
        "is_controller": "BOOLEAN",
        "field": "VARCHAR",
        "new_value": "BIGINT",
        "source_format": "VARCHAR",
        # The admission policy the write failed, with its message (audit.admission), or null.
        "admission_failure": "VARCHAR",
    },
    "k8s_audit_rejects": {
        "snapshot_date": "DATE",
        "cluster": "VARCHAR",
        "source": "VARCHAR",
        "line_number": "BIGINT",
        "changed_at": "TIMESTAMP",
        "principal": "VARCHAR",
        "method": "VARCHAR",
        "reason": "VARCHAR",
        "entry_json": "VARCHAR",
    },
    # The load record (raw.record): one row per loaded day, replaced with the day's rows.
    "day_loads": {
        "snapshot_date": "DATE",
        "fingerprint": "VARCHAR",
        "source_files": "VARCHAR",
        # Each input's version (JSON), so a later run can say which file changed.
        "input_versions": "VARCHAR",
        # The PED change log's highest arrival_seq the loading run knew of.
        "ped_seen": "BIGINT",
        # The run window of the run for this day and why (JSON; raw.record.RunWindow).
        "run_window": "VARCHAR",
    },
    "ped_limit_changes": {
        "arrival_seq": "BIGINT",
        "change_id": "VARCHAR",
        "namespace": "VARCHAR",
        "deployment": "VARCHAR",
        "team": "VARCHAR",
        "min_replicas": "VARCHAR",
        "max_replicas": "VARCHAR",
        "cpu": "VARCHAR",
        "memory_gb": "VARCHAR",
        "changed_at": "VARCHAR",
        "changed_by": "VARCHAR",
        "action": "VARCHAR",
        "reason": "VARCHAR",
        "raw_line": "VARCHAR",
        "parse_error": "VARCHAR",
    },
}

DAY_TABLES = (
    "k8s_deployments",
    "k8s_hpas",
    "k8s_rejects",
    "snapshot_manifest",
    "k8s_audit_events",
    "k8s_audit_rejects",
    "day_loads",
)

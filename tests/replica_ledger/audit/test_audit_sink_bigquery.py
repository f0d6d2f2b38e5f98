"""The audit log read straight from the log sink's BigQuery table (REPLICA_LEDGER_AUDIT_LOG=
bq://PROJECT.DATASET.TABLE): a `cloudaudit_googleapis_com_activity` table with the export's
nested RECORD schema on the BigQuery emulator, a day loaded from it by the product's load
step, the same write rows as the same entries loaded from a JSON Lines file, and a late row
that reloads its day. Skipped when the emulator's venv (.venv/bq) is not installed."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from replica_ledger.audit.bigquery_sink import log_entry, sink_line
from replica_ledger.audit.entries import read_entry
from replica_ledger.settings import AuditTable, Settings
from tests.dbt.bigquery_load import RAW_DATASET, load_raw_day
from tests.dbt.conftest import bigquery_emulator  # noqa: F401 - the session emulator
from tests.replica_ledger.audit.test_audit_load import write_log
from tooling import audit_entries as make

# Far from the other BigQuery tests' days: the emulator is the session's.
DAY = date(2026, 3, 10)
SINK_DATASET = "k8s_audit_sink"
SINK_TABLE = "cloudaudit_googleapis_com_activity"


def _string(name: str) -> dict:
    return {"name": name, "type": "STRING"}


def _record(name: str, *fields: dict) -> dict:
    return {"name": name, "type": "RECORD", "fields": list(fields)}


# The columns the ledger reads, as Cloud Logging's BigQuery export names them
# (https://cloud.google.com/logging/docs/export/bigquery, "Payload fields with @type").
SINK_SCHEMA = [
    {"name": "timestamp", "type": "TIMESTAMP"},
    _string("insertId"),
    _string("logName"),
    _string("severity"),
    _record("resource", _string("type"), _record("labels", *map(_string, ("cluster_name", "location", "project_id")))),
    _record(
        "protopayload_auditlog",
        _string("methodName"),
        _string("resourceName"),
        _record("authenticationInfo", _string("principalEmail")),
        _record("requestMetadata", _string("callerIp"), _string("callerSuppliedUserAgent")),
        _record("status", {"name": "code", "type": "INTEGER"}, _string("message")),
        _string("requestJson"),
        _string("responseJson"),
    ),
]


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def hpa_max_by_a_person(insert_id: str, when: datetime, max_replicas: int) -> dict:
    return make.log_entry(
        insert_id=insert_id,
        at=when,
        cluster="gke-eu",
        resource="horizontalpodautoscalers",
        verb="patch",
        namespace="shop",
        name="api",
        principal="dev@example.com",
        user_agent=make.KUBECTL_AGENT,
        request={"spec": {"maxReplicas": max_replicas}},
        response=make.hpa_object("shop", "api", max_replicas),
    )


def scale_by_the_hpa_controller(insert_id: str, when: datetime, replicas: int) -> dict:
    return make.log_entry(
        insert_id=insert_id,
        at=when,
        cluster="gke-eu",
        resource="deployments",
        subresource="scale",
        verb="update",
        namespace="shop",
        name="api",
        principal=make.HPA_CONTROLLER,
        user_agent=make.HPA_CONTROLLER_AGENT,
        request=make.scale_object("shop", "api", replicas),
        response=make.scale_object("shop", "api", replicas),
    )


def sink_row(entry: dict, *, resource_type: str | None = None, request_json: str | None = None) -> dict:
    """A LogEntry as the log sink writes it into BigQuery: the AuditLog payload as the record
    protopayload_auditlog, its request/response Structs as JSON strings."""
    payload = entry["protoPayload"]
    labels = entry["resource"]["labels"]
    return {
        "timestamp": entry["timestamp"],
        "insertId": entry["insertId"],
        "logName": entry["logName"],
        "severity": entry["severity"],
        "resource": {"type": resource_type or entry["resource"]["type"], "labels": labels},
        "protopayload_auditlog": {
            "methodName": payload["methodName"],
            "resourceName": payload["resourceName"],
            "authenticationInfo": payload["authenticationInfo"],
            "requestMetadata": payload["requestMetadata"],
            "status": {"code": (payload.get("status") or {}).get("code"), "message": None},
            "requestJson": request_json or (json.dumps(payload["request"]) if "request" in payload else None),
            "responseJson": json.dumps(payload["response"]) if "response" in payload else None,
        },
    }


PERSON = hpa_max_by_a_person("hpa-1", at(9), 12)
CONTROLLER = scale_by_the_hpa_controller("scale-1", at(10), 9)
DAY_BEFORE = hpa_max_by_a_person("hpa-0", at(23, 30, DAY - timedelta(days=1)), 8)
NOT_JSON = hpa_max_by_a_person("hpa-2", at(11), 14)
# A GKE cluster operation (resource.type gke_cluster) that names a Deployment-looking method.
OTHER_RESOURCE = hpa_max_by_a_person("gke-op-1", at(12), 30)

SINK_ROWS = [
    sink_row(PERSON),
    sink_row(CONTROLLER),
    sink_row(DAY_BEFORE),
    sink_row(NOT_JSON, request_json='{"spec": {"maxReplicas": 14'),
    sink_row(OTHER_RESOURCE, resource_type="gke_cluster"),
]

EVENTS_SQL = (
    "select audit_id, changed_at, cluster, namespace, object_kind, object_name, deployment, method, verb, "
    "subresource, principal, user_agent, tool, is_controller, field, new_value, source_format "
    "from `{project}.{raw}.k8s_audit_events` where snapshot_date = @day order by changed_at"
)


# --------------------------------------------------------------------------- row -> LogEntry (no emulator)


def test_a_sink_row_reads_as_the_log_entry_it_was_exported_from():
    table = AuditTable("example-prod", SINK_DATASET, SINK_TABLE)
    row = _as_query_row(sink_row(CONTROLLER))
    line = sink_line(table, 1, row)
    assert line.reject_reason is None
    assert read_entry(json.loads(line.text)) == read_entry(CONTROLLER)


def test_a_sink_row_whose_request_is_not_json_is_rejected_with_the_reason():
    entry, reason = log_entry(_as_query_row(SINK_ROWS[3]))
    assert reason.startswith("protopayload_auditlog.requestJson is not JSON: ")
    assert entry["protoPayload"]["requestJson"] == '{"spec": {"maxReplicas": 14'
    assert read_entry(entry).principal == "dev@example.com"


def _as_query_row(row: dict) -> dict:
    """What the reader's query selects from a sink row (its column aliases)."""
    payload = row["protopayload_auditlog"]
    return {
        "insert_id": row["insertId"],
        "timestamp": datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")),
        "cluster_name": row["resource"]["labels"]["cluster_name"],
        "method_name": payload["methodName"],
        "resource_name": payload["resourceName"],
        "principal_email": payload["authenticationInfo"]["principalEmail"],
        "user_agent": payload["requestMetadata"]["callerSuppliedUserAgent"],
        "status_code": payload["status"]["code"],
        "request_json": payload["requestJson"],
        "response_json": payload["responseJson"],
    }


# --------------------------------------------------------------------------- the day load on the emulator


@pytest.fixture(scope="module")
def sink(bigquery_emulator):  # noqa: F811 - the imported session fixture
    from google.cloud import bigquery

    client = bigquery_emulator.client()
    client.create_dataset(RAW_DATASET, exists_ok=True)
    client.create_dataset(SINK_DATASET, exists_ok=True)
    table = bigquery.Table(
        f"{bigquery_emulator.project}.{SINK_DATASET}.{SINK_TABLE}",
        schema=[bigquery.SchemaField.from_api_repr(field) for field in SINK_SCHEMA],
    )
    table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field="timestamp")
    client.create_table(table, exists_ok=True)
    _append(client, table.reference, SINK_ROWS)
    return bigquery_emulator, AuditTable(bigquery_emulator.project, SINK_DATASET, SINK_TABLE)


def _append(client, table_ref, rows: list[dict]) -> None:
    """Rows into the sink's table (the sink streams them; a load job is the emulator's way in)."""
    from google.cloud import bigquery

    config = bigquery.LoadJobConfig(
        schema=[bigquery.SchemaField.from_api_repr(field) for field in SINK_SCHEMA],
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
    )
    client.load_table_from_json(rows, table_ref, job_config=config).result()


def _settings(tmp_path, audit_log) -> Settings:
    return replace(Settings(), archive_dir=tmp_path / "archive", clusters=("gke-eu",), audit_log=audit_log)


def _events(emulator, day: date) -> list[tuple]:
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("day", "DATE", day)])
    sql = EVENTS_SQL.format(project=emulator.project, raw=RAW_DATASET)
    return [tuple(row.values()) for row in emulator.client().query(sql, job_config=config).result()]


def test_a_day_loads_from_the_sink_table_as_from_a_file(sink, tmp_path):
    emulator, table = sink
    summary = load_raw_day(emulator, _settings(tmp_path, table), DAY)
    assert summary["audit"] == {"configured": True, "events": 2, "rejects": 1, "skipped": {}}

    events = _events(emulator, DAY)
    who = [(row[10], row[12], row[14], row[15], row[2]) for row in events]  # principal, tool, field, value, cluster
    assert who == [
        ("dev@example.com", "kubectl", "max_replicas", 12, "gke-eu"),
        (make.HPA_CONTROLLER, "controller", "replicas", 9, "gke-eu"),
    ]
    rejects = emulator.client().query_and_wait(
        f"select cluster, source, line_number, principal, method, reason, entry_json "
        f"from `{emulator.project}.{RAW_DATASET}.k8s_audit_rejects` where snapshot_date = '{DAY}'"
    )
    [(cluster, source, line_number, principal, method, reason, entry_json)] = [tuple(r.values()) for r in rejects]
    assert (cluster, source, line_number, principal) == ("gke-eu", str(table), 3, "dev@example.com")
    assert method == "io.k8s.autoscaling.v2.horizontalpodautoscalers.patch"
    assert reason.startswith("protopayload_auditlog.requestJson is not JSON")
    assert json.loads(entry_json)["insertId"] == "hpa-2"

    # The same entries from a JSON Lines file: the same write rows.
    audit_file = tmp_path / "audit.jsonl"
    write_log(audit_file, [DAY_BEFORE, PERSON, CONTROLLER])
    from_file = load_raw_day(emulator, _settings(tmp_path, audit_file), DAY)
    assert from_file["audit"]["events"] == 2
    assert _events(emulator, DAY) == events


def test_a_late_row_in_the_sink_reloads_its_day(sink, tmp_path):
    emulator, table = sink
    late_day = DAY + timedelta(days=20)
    settings = _settings(tmp_path, table)
    load_raw_day(emulator, settings, late_day)
    assert load_raw_day(emulator, settings, late_day + timedelta(days=1))["reloaded_days"] == {}

    late = hpa_max_by_a_person("hpa-late", at(15, day=late_day), 20)
    _append(emulator.client(), f"{emulator.project}.{SINK_DATASET}.{SINK_TABLE}", [sink_row(late)])
    summary = load_raw_day(emulator, settings, late_day + timedelta(days=2))
    assert list(summary["reloaded_days"]) == [late_day.isoformat()]
    assert [row[0] for row in _events(emulator, late_day)] == ["hpa-late"]

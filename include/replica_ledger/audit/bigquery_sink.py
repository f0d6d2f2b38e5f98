"""The log sink's BigQuery table as the audit log (REPLICA_LEDGER_AUDIT_LOG=bq://PROJECT.DATASET.TABLE).

In production a log sink exports GKE's Admin Activity audit log to BigQuery, table
`cloudaudit_googleapis_com_activity`, partitioned by day on `timestamp`
(`--use-partitioned-tables`; docs/audit-log.md "Production: the log sink"). A day's load
runs ONE query over it: the day's `timestamp` range (query parameters), `resource.type =
'k8s_cluster'`, and the methods of Deployments and HPAs. Each row becomes the Cloud Logging
`LogEntry` dict that `audit.entries` reads from a file, and the rows go through the file
reader's own classification (`audit.log.classify_lines`): the same `AuditDay`, the same
write rows, rejects and skips.

Column names, from Cloud Logging's "BigQuery schema for exported logs"
(https://cloud.google.com/logging/docs/export/bigquery): fields of the LogEntry type keep
their names (`timestamp`, `insertId`, `resource.type`, `resource.labels.cluster_name`,
`logName`); under "Payload fields with @type", an audit log payload
(`type.googleapis.com/google.cloud.audit.AuditLog`) is the record `protopayload_auditlog`
(`methodName`, `resourceName`, `authenticationInfo.principalEmail`,
`requestMetadata.callerSuppliedUserAgent`, `status.code`), and its free-form Struct fields
`request` / `response` are JSON strings, `requestJson` / `responseJson`.

A row whose `requestJson` or `responseJson` is not JSON is a reject row with the reason, as a
line of a file that is not JSON is. A reject row names the table as its source and the row's
position in the day's rows (ordered by `timestamp`, `insertId`) as its line number; its
`entry_json` is the entry as read, the unreadable body kept as its string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from replica_ledger.audit.log import AuditDay, AuditLine, classify_lines
from replica_ledger.settings import AuditTable

K8S_CLUSTER = "k8s_cluster"
# GKE's methodName of a Deployment or HPA request, e.g. io.k8s.apps.v1.deployments.scale.patch,
# io.k8s.autoscaling.v2.horizontalpodautoscalers.update.
METHOD_PATTERNS = ("%.deployments.%", "%.horizontalpodautoscalers.%")

# The rows a load of one day reads; shared by the day's read and its load-record version.
_DAY_FILTER = """
WHERE timestamp >= @range_start AND timestamp < @range_end
  AND resource.type = @resource_type
  AND (protopayload_auditlog.methodName LIKE @deployments OR protopayload_auditlog.methodName LIKE @hpas)"""

# `{table}` is an AuditTable's table_id: matched against a strict pattern (settings.AuditTable).
_DAY_ROWS = (
    """SELECT
  insertId AS insert_id,
  timestamp,
  resource.labels.cluster_name AS cluster_name,
  protopayload_auditlog.methodName AS method_name,
  protopayload_auditlog.resourceName AS resource_name,
  protopayload_auditlog.authenticationInfo.principalEmail AS principal_email,
  protopayload_auditlog.requestMetadata.callerSuppliedUserAgent AS user_agent,
  protopayload_auditlog.status.code AS status_code,
  protopayload_auditlog.requestJson AS request_json,
  protopayload_auditlog.responseJson AS response_json
FROM `{table}`"""
    + _DAY_FILTER
    + "\nORDER BY timestamp, insertId"
)

# Per day of a window: how many rows and the latest time (a late row changes either).
_WINDOW_VERSIONS = (
    """SELECT DATE(timestamp) AS sink_day, COUNT(*) AS row_count, MAX(timestamp) AS latest
FROM `{table}`"""
    + _DAY_FILTER
    + "\nGROUP BY sink_day"
)


class SinkTable:
    """The log sink's table as an `audit.log.AuditSource`, read with `bq_client`
    (built by `warehouse.open_audit_source`)."""

    def __init__(self, table: AuditTable, bq_client) -> None:
        self.table, self.client = table, bq_client

    def __str__(self) -> str:
        return str(self.table)

    def versions(self, first: date, last: date) -> dict[date, dict[str, str]]:
        return sink_versions(self.table, first, last, self.client)

    def read_day(self, day: date, excluded_namespaces: tuple[str, ...]) -> AuditDay:
        return read_sink_day(self.table, day, excluded_namespaces, self.client)


def read_sink_day(table: AuditTable, day: date, excluded_namespaces: tuple[str, ...], bq_client) -> AuditDay:
    """The audit rows of `day` from the sink's table (one query), classified as a file's."""
    rows = _query(bq_client, _DAY_ROWS.format(table=table.table_id), _range_parameters(day, day))
    lines = [sink_line(table, number, row) for number, row in enumerate(rows, start=1)]
    return classify_lines(day, lines, excluded_namespaces)


def sink_versions(table: AuditTable, first: date, last: date, bq_client) -> dict[date, dict[str, str]]:
    """For the load record: each day of [first, last] with rows, `{table: "<rows>:<latest>"}`.
    Rows streamed in late (inside the lookback window) change it, so the day is reloaded."""
    rows = _query(bq_client, _WINDOW_VERSIONS.format(table=table.table_id), _range_parameters(first, last))
    return {row["sink_day"]: {str(table): f"{row['row_count']}:{_rfc3339(row['latest'])}"} for row in rows}


def sink_line(table: AuditTable, number: int, row: Mapping[str, Any]) -> AuditLine:
    """One sink row as the line a file would hold (a LogEntry), or a line rejected with why."""
    entry, reason = log_entry(row)
    return AuditLine(str(table), number, json.dumps(entry, separators=(",", ":")), None, reason)


def log_entry(row: Mapping[str, Any]) -> tuple[dict, str | None]:
    """The LogEntry dict of a sink row (the shape `audit.entries` reads), and the reason it
    cannot be read when a body is not JSON (the body is then kept as its string)."""
    payload: dict[str, Any] = {
        "methodName": row.get("method_name"),
        "resourceName": row.get("resource_name"),
        "authenticationInfo": {"principalEmail": row.get("principal_email")},
        "requestMetadata": {"callerSuppliedUserAgent": row.get("user_agent")},
    }
    if row.get("status_code"):
        payload["status"] = {"code": row["status_code"]}
    reasons = []
    for column, key in (("request_json", "request"), ("response_json", "response")):
        body, error = _json_body(row.get(column))
        if error is None:
            if body is not None:
                payload[key] = body
        else:
            payload[f"{key}Json"] = row.get(column)
            reasons.append(f"protopayload_auditlog.{key}Json is not JSON: {error}")
    entry = {
        "insertId": row.get("insert_id"),
        "timestamp": _rfc3339(row.get("timestamp")),
        "resource": {"type": K8S_CLUSTER, "labels": {"cluster_name": row.get("cluster_name")}},
        "protoPayload": payload,
    }
    return entry, "; ".join(reasons) or None


def _json_body(text: Any) -> tuple[Any, str | None]:
    """(decoded body, None), or (None, the error): a blank column is no body, not an error."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None, None
    try:
        return json.loads(text), None
    except (TypeError, ValueError) as exc:
        return None, str(exc)


def _rfc3339(moment: Any) -> str | None:
    """A TIMESTAMP column (an aware datetime from the client) as RFC 3339 UTC text."""
    if not isinstance(moment, datetime):
        return None if moment is None else str(moment)
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _range_parameters(first: date, last: date) -> list:
    """[first 00:00Z, last + 1 00:00Z) and the filter's constants, as query parameters."""
    from google.cloud import bigquery  # heavy: imported at run time only

    begin = datetime.combine(first, time(), tzinfo=UTC)
    stop = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    return [
        bigquery.ScalarQueryParameter("range_start", "TIMESTAMP", begin),
        bigquery.ScalarQueryParameter("range_end", "TIMESTAMP", stop),
        bigquery.ScalarQueryParameter("resource_type", "STRING", K8S_CLUSTER),
        bigquery.ScalarQueryParameter("deployments", "STRING", METHOD_PATTERNS[0]),
        bigquery.ScalarQueryParameter("hpas", "STRING", METHOD_PATTERNS[1]),
    ]


def _query(bq_client, sql: str, parameters: list) -> list[dict]:
    from google.cloud import bigquery

    if bq_client is None:
        raise ValueError("reading the audit log sink table needs a BigQuery client")
    config = bigquery.QueryJobConfig(query_parameters=parameters)
    return [dict(row.items()) for row in bq_client.query(sql, job_config=config).result()]

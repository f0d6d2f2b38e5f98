"""One audit line, in either input format, as a format-free `AuditEntry`.

Two formats carry the same facts under different names:

- a Cloud Logging `LogEntry` (what `gcloud logging read --format=json` prints for GKE's
  Admin Activity audit log): `protoPayload.methodName` such as
  `io.k8s.apps.v1.deployments.scale.patch`, `protoPayload.resourceName` such as
  `apps/v1/namespaces/shop/deployments/cart/scale`, `protoPayload.request` / `.response`,
  `resource.labels.cluster_name`, `timestamp`;
- an upstream `audit.k8s.io/v1` `Event` (the API server's own audit backend): `verb`,
  `objectRef`, `user.username`, `userAgent`, `requestObject` / `responseObject`,
  `stageTimestamp`. It names no cluster: the line's `cluster` key, or the file's
  (`dt=YYYY-MM-DD/<cluster>.jsonl`) gives it.

A line that is not a JSON object of either shape raises `EntryError` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from replica_ledger.audit.admission import annotation_of, failure_text
from replica_ledger.policies.objects import POLICY_NAMES

CLOUD_LOGGING = "cloud_logging"
K8S_AUDIT = "k8s_audit_event"

# `.../namespaces/<namespace>/<resource>/<name>[/<subresource>]` of a resourceName.
_RESOURCE_PATH = re.compile(
    r"namespaces/(?P<namespace>[^/]+)/(?P<resource>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$"
)
# Fractions beyond microseconds (Cloud Logging prints nanoseconds) that fromisoformat refuses.
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


class EntryError(ValueError):
    """The line cannot be read as an audit entry; the message is the quarantine reason."""


@dataclass(frozen=True)
class AuditEntry:
    """The facts of one API request, whatever the input format."""

    source_format: str
    audit_id: str | None
    at: datetime  # naive UTC
    cluster: str | None
    resource: str  # plural API resource: deployments, horizontalpodautoscalers, ...
    subresource: str | None  # scale, status, or None
    namespace: str | None
    name: str | None
    verb: str  # create, update, patch, delete, ...
    method: str  # the GKE methodName, or `<apiGroup>/<apiVersion>.<resource>[.<sub>].<verb>`
    principal: str | None
    user_agent: str | None
    request: Any  # the body as logged (dict, a JSON patch list, or None)
    response: Any
    failed: bool  # the API server refused the request: nothing changed
    has_body: bool  # False at audit level Metadata: who and when, not what
    # `<policy>: <message>` when the write failed an admission policy with the Audit action
    # (audit.admission): the LogEntry's labels or the Event's annotations carry it.
    admission_failure: str | None = None


def parse_timestamp(text: Any) -> datetime:
    """An RFC 3339 time (any fraction length, `Z` or offset) as naive UTC; no offset: EntryError."""
    if not isinstance(text, str) or not text:
        raise EntryError("no timestamp")
    cleaned = _LONG_FRACTION.sub(r"\1", text.strip().replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise EntryError(f"timestamp {text!r} is not RFC 3339") from None
    if moment.tzinfo is None:
        # RFC 3339 requires the offset: a local time of some unknown zone is no time at all.
        raise EntryError(f"timestamp {text!r} has no time zone (not RFC 3339)")
    return moment.astimezone(UTC).replace(tzinfo=None)


def read_entry(line: dict, file_cluster: str | None = None) -> AuditEntry:
    """The `AuditEntry` of a decoded line in either format (EntryError when it is neither)."""
    if not isinstance(line, dict):
        raise EntryError(f"a JSON {type(line).__name__}, not an object")
    if isinstance(line.get("protoPayload"), dict):
        return _from_log_entry(line)
    if line.get("kind") == "Event" and str(line.get("apiVersion", "")).startswith("audit.k8s.io/"):
        return _from_k8s_event(line, file_cluster)
    raise EntryError("neither a Cloud Logging LogEntry (protoPayload) nor an audit.k8s.io Event")


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _from_log_entry(line: dict) -> AuditEntry:
    payload = line["protoPayload"]
    method = _text(payload.get("methodName"))
    if method is None:
        raise EntryError("protoPayload.methodName missing")
    resource, subresource, verb = _split_method(method)
    namespace, name = _split_resource_name(_text(payload.get("resourceName")), resource)
    labels = (line.get("resource") or {}).get("labels") or {}
    request, response = payload.get("request"), payload.get("response")
    status = payload.get("status") or {}
    return AuditEntry(
        source_format=CLOUD_LOGGING,
        audit_id=_text(line.get("insertId")),
        at=parse_timestamp(line.get("timestamp")),
        cluster=_text(labels.get("cluster_name")),
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
        verb=verb,
        method=method,
        principal=_text((payload.get("authenticationInfo") or {}).get("principalEmail")),
        user_agent=_text((payload.get("requestMetadata") or {}).get("callerSuppliedUserAgent")),
        request=request,
        response=response,
        failed=bool(isinstance(status, dict) and status.get("code")),
        has_body=request is not None or response is not None,
        admission_failure=failure_text(annotation_of(line.get("labels")), POLICY_NAMES),
    )


def _split_method(method: str) -> tuple[str, str | None, str]:
    """`io.k8s.apps.v1.deployments.scale.patch` -> (deployments, scale, patch)."""
    parts = method.split(".")
    for resource in ("deployments", "horizontalpodautoscalers"):
        if resource in parts:
            after = parts[parts.index(resource) + 1 :]
            if len(after) == 1:
                return resource, None, after[0]
            if len(after) == 2:
                return resource, after[0], after[1]
    return parts[-2] if len(parts) > 1 else method, None, parts[-1]


def _split_resource_name(resource_name: str | None, resource: str) -> tuple[str | None, str | None]:
    match = _RESOURCE_PATH.search(resource_name or "")
    if not match or match["resource"] != resource:
        return None, None
    return match["namespace"], match["name"]


def _from_k8s_event(line: dict, file_cluster: str | None) -> AuditEntry:
    ref = line.get("objectRef")
    if not isinstance(ref, dict) or not _text(ref.get("resource")):
        raise EntryError("objectRef.resource missing")
    verb = _text(line.get("verb"))
    if verb is None:
        raise EntryError("verb missing")
    resource, subresource = ref["resource"], _text(ref.get("subresource"))
    group = "/".join(part for part in (_text(ref.get("apiGroup")), _text(ref.get("apiVersion"))) if part)
    method = ".".join(part for part in (group, resource, subresource, verb) if part)
    request, response = line.get("requestObject"), line.get("responseObject")
    status = line.get("responseStatus") or {}
    code = status.get("code") if isinstance(status, dict) else None
    annotations = line.get("annotations") or {}
    return AuditEntry(
        source_format=K8S_AUDIT,
        audit_id=_text(line.get("auditID")),
        at=parse_timestamp(line.get("stageTimestamp") or line.get("requestReceivedTimestamp")),
        cluster=_text(line.get("cluster")) or _text(annotations.get("cluster_name")) or file_cluster,
        resource=resource,
        subresource=subresource,
        namespace=_text(ref.get("namespace")),
        name=_text(ref.get("name")),
        verb=verb,
        method=method,
        principal=_text((line.get("user") or {}).get("username")),
        user_agent=_text(line.get("userAgent")),
        request=request,
        response=response,
        failed=isinstance(code, int) and code >= 400,
        has_body=line.get("level") != "Metadata" and (request is not None or response is not None),
        admission_failure=failure_text(annotation_of(annotations), POLICY_NAMES),
    )


def is_final_stage(line: dict) -> bool:
    """An upstream Event is logged per stage; only ResponseComplete says the write happened."""
    return line.get("kind") != "Event" or line.get("stage", "ResponseComplete") == "ResponseComplete"

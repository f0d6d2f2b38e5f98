"""An `AuditEntry` -> one normalized write row (raw table `k8s_audit_events`), or why not.

A write row says who wrote which Deployment or HPA when, with which tool, and the new
`spec.replicas` (Deployment, also through its `scale` subresource) or `spec.maxReplicas`
(HPA) when the logged bodies show it. The response (the object after the write) wins over
the request; a request is read as the object itself (create, update, the Scale object),
a merge or strategic merge patch (the same shape, partial), or a JSON patch (a list of
operations).

What is not a write row is never silently dropped: `Skip` (not a limit write: a status
update, a read, a refused request, another resource, an out-of-scope namespace; counted)
or `Quarantine` (a write whose facts are missing or malformed; kept with the reason).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from replica_ledger.audit.entries import AuditEntry
from replica_ledger.contract import MAX_REPLICA_COUNT

DEPLOYMENT = "Deployment"
HPA = "HorizontalPodAutoscaler"
KINDS = {"deployments": DEPLOYMENT, "horizontalpodautoscalers": HPA}
FIELDS = {DEPLOYMENT: ("replicas", "replicas"), HPA: ("max_replicas", "maxReplicas")}
WRITE_VERBS = ("create", "update", "patch", "delete")

# tool values (docs/audit-log.md "What counts as a person's edit")
KUBECTL, CI, CONSOLE, CONTROLLER, OTHER = "kubectl", "ci", "console", "controller", "other"
HPA_CONTROLLER = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
# Google service accounts: pipelines (CI/CD), never a person.
_SERVICE_ACCOUNT_SUFFIXES = (".iam.gserviceaccount.com", ".gserviceaccount.com")
_CONSOLE_AGENTS = ("GoogleCloudConsole", "Mozilla/")


@dataclass(frozen=True)
class Skip:
    """Not a write to a Deployment's or HPA's spec in scope: counted under `reason`."""

    reason: str


@dataclass(frozen=True)
class Quarantine:
    """A write the ledger cannot state fully: kept as a reject row with the reason."""

    reason: str


def is_controller(principal: str | None) -> bool:
    """Kubernetes' own accounts (the HPA and deployment controllers, any `system:` user)."""
    return bool(principal) and principal.startswith("system:")


def tool_of(principal: str | None, user_agent: str | None) -> str:
    """Who typed it, roughly: a controller, a CI service account, the console, kubectl, other."""
    agent = user_agent or ""
    if is_controller(principal):
        return CONTROLLER
    if principal and principal.endswith(_SERVICE_ACCOUNT_SUFFIXES):
        return CI
    if any(marker in agent for marker in _CONSOLE_AGENTS):
        return CONSOLE
    if agent.startswith("kubectl"):
        return KUBECTL
    return OTHER


def in_scope(namespace: str, excluded: tuple[str, ...]) -> bool:
    """False when an excluded pattern matches: `*` is any run of characters, every other
    character only itself (`?`, `[`, `_`, `%` too). The same language as dbt's
    ledger_namespace_in_scope (macros/cross_db.sql); tests/parity/ holds the two together."""
    return not any(_excluded_pattern(pattern).fullmatch(namespace) for pattern in excluded)


@lru_cache(maxsize=256)
def _excluded_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("(?s:.*)".join(re.escape(piece) for piece in pattern.split("*")))


def write_row(entry: AuditEntry, excluded_namespaces: tuple[str, ...]) -> dict | Skip | Quarantine:
    """The write row of `entry`, or why it is none (see the module docstring)."""
    kind = KINDS.get(entry.resource)
    if kind is None:
        return Skip(f"not a Deployment or HPA ({entry.resource})")
    if entry.verb not in WRITE_VERBS:
        return Skip(f"not a write ({entry.verb})")
    if entry.subresource not in (None, "scale") or (kind == HPA and entry.subresource):
        return Skip(f"{entry.subresource} subresource: not the spec")
    if entry.failed:
        return Skip("refused by the API server")
    if entry.namespace and not in_scope(entry.namespace, excluded_namespaces):
        return Skip("namespace out of scope")
    missing = _missing_facts(entry)
    if missing:
        return Quarantine(f"{', '.join(missing)} missing")
    if not entry.has_body:
        who = entry.principal or "an unknown principal"
        return Quarantine(
            f"a change of unknown size by {who} at {entry.at.isoformat(sep=' ')}Z (no request or response body)"
        )
    return _row(entry, kind)


def _missing_facts(entry: AuditEntry) -> list[str]:
    facts = {
        "cluster": entry.cluster,
        "namespace": entry.namespace,
        "object name": _name(entry),
        "entry id (insertId / auditID)": entry.audit_id,
    }
    return [label for label, value in facts.items() if not value]


def _name(entry: AuditEntry) -> str | None:
    if entry.name:
        return entry.name
    for body in (entry.response, entry.request):
        name = _dig(body, "metadata", "name")
        if isinstance(name, str) and name:
            return name
    return None


def _row(entry: AuditEntry, kind: str) -> dict | Quarantine:
    field, key = FIELDS[kind]
    try:
        value = None if entry.verb == "delete" else _new_value(entry, key)
    except ValueError as exc:
        return Quarantine(str(exc))
    name = _name(entry)
    return {
        "audit_id": entry.audit_id,
        "changed_at": entry.at,
        "cluster": entry.cluster,
        "namespace": entry.namespace,
        "object_kind": kind,
        "object_name": name,
        "deployment": (_target_deployment(entry) or name) if kind == HPA else name,
        "method": entry.method,
        "verb": entry.verb,
        "subresource": entry.subresource,
        "principal": entry.principal,
        "user_agent": entry.user_agent,
        "tool": tool_of(entry.principal, entry.user_agent),
        "is_controller": is_controller(entry.principal),
        "field": field,
        "new_value": value,
        "source_format": entry.source_format,
        "admission_failure": entry.admission_failure,
    }


def _dig(body: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def _integer(value: Any, where: str, key: str) -> int:
    """A replica count as Kubernetes keeps it (an int32 of 0 or more), bounded where it is read:
    a value beyond it (1e300, 2^64) would fail the insert of the whole day; a negative or
    fractional one is no count at all."""
    shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"spec.{key} in the {where} is {shown}, not an integer")
    if value != int(value):
        raise ValueError(f"spec.{key} in the {where} is {shown}, not an integer")
    if value < 0:
        raise ValueError(f"spec.{key} in the {where} is {shown}, a negative count")
    if value > MAX_REPLICA_COUNT:
        raise ValueError(
            f"spec.{key} in the {where} is {shown}, above {MAX_REPLICA_COUNT} (the Kubernetes API's limit)"
        )
    return int(value)


def _new_value(entry: AuditEntry, key: str) -> int | None:
    """spec.<key> after the write: the response's, else the request's (object, patch, JSON patch)."""
    for where, body in (("response", entry.response), ("request", entry.request)):
        value = _json_patch_value(body, key) if isinstance(body, list) else _dig(body, "spec", key)
        if value is not None:
            return _integer(value, where, key)
    return None


def _json_patch_value(operations: list, key: str) -> Any:
    """The last add/replace of /spec/<key> (or of /spec as a whole) in a JSON patch."""
    found = None
    for operation in operations:
        if not isinstance(operation, dict) or operation.get("op") not in ("add", "replace"):
            continue
        if operation.get("path") == f"/spec/{key}":
            found = operation.get("value")
        elif operation.get("path") == "/spec" and isinstance(operation.get("value"), dict):
            found = operation["value"].get(key, found)
    return found


def _target_deployment(entry: AuditEntry) -> str | None:
    """The HPA's scaleTargetRef name when a body shows it (and it targets a Deployment)."""
    for body in (entry.response, entry.request):
        ref = _dig(body, "spec", "scaleTargetRef")
        if isinstance(ref, dict) and ref.get("kind", DEPLOYMENT) == DEPLOYMENT and isinstance(ref.get("name"), str):
            return ref["name"]
    return None

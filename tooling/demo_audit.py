"""The demo month's Kubernetes audit log (demo/audit_log.jsonl): who made the snapshots' changes.

Cloud Logging LogEntry lines (GKE Admin Activity), in time order, consistent with the
snapshots of tooling.demo_data (the snapshot of day D is taken at D+1 00:04):
- payments-api: Ana Lopez raises the HPA max from 3 to 6 with kubectl on day 10 at 15:20,
  the day before PED approves 6 (day 11, 09:30); CI redeploys the Deployment and applies
  the same HPA on day 11 (no change, so no edit); the HPA controller scales 3 -> 4 on
  day 11 and 4 -> 5 on day 15.
- orders-api: Sam Ortiz sets the HPA max to 8 on day 14 and back to 4 on day 27 (the
  hpa_max_over_limit episode); the controller scales to 6 on day 16 and back to 3 on day 19.
- catalog-api: Lee Chen raises the HPA max 4 -> 7 and reverts it within an hour on day 8,
  while the controller scales to 6 and back: no snapshot ever shows it.
- inventory-api: CI redeploys on its PED approval day (day 20), replicas unchanged.
- legacy-api: CI deletes the Deployment and HPA on its PED delete day (day 15).
- kube-system: the controller's writes there are out of scope.
- search-api on gke-demo-us: one entry logged at Metadata level (no bodies): quarantined as
  a change of unknown size.
- the generated admission policies (docs/policies.md) are applied with Warn and Audit from
  day 9: Ana's raise (day 10), Sam's (day 14) and the HPA controller's scale of orders-api to
  6 (day 16) carry the policy's audit annotation (GKE copies it into the LogEntry's labels),
  so the report says "admission warned".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from replica_ledger.policies import objects
from tooling import audit_entries as make

EU, US = "gke-demo-eu", "gke-demo-us"
PROJECT = "demo-prod"
ANA = "ana.lopez@demo.example"
SAM = "sam.ortiz@demo.example"
LEE = "lee.chen@demo.example"
OPS = "ops-oncall@demo.example"
CI = "deploy-bot@demo-prod.iam.gserviceaccount.com"


def _at(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def _hpa(day, hour, minute, namespace, name, max_replicas, principal, agent, verb="patch"):
    body = make.hpa_object(namespace, name, max_replicas)
    request = body if verb == "update" else {"@type": "k8s.io/Patch", "spec": {"maxReplicas": max_replicas}}
    return {
        "at": _at(day, hour, minute),
        "resource": "horizontalpodautoscalers",
        "verb": verb,
        "namespace": namespace,
        "name": name,
        "principal": principal,
        "user_agent": agent,
        "request": request,
        "response": body,
    }


def _scale(day, hour, minute, namespace, name, replicas):
    scale = make.scale_object(namespace, name, replicas)
    return {
        "at": _at(day, hour, minute),
        "resource": "deployments",
        "verb": "update",
        "subresource": "scale",
        "namespace": namespace,
        "name": name,
        "principal": make.HPA_CONTROLLER,
        "user_agent": make.HPA_CONTROLLER_AGENT,
        "request": scale,
        "response": scale,
    }


def _redeploy(day, hour, minute, namespace, name, replicas, image):
    body = make.deployment_object(namespace, name, replicas, image=image)
    return {
        "at": _at(day, hour, minute),
        "resource": "deployments",
        "verb": "update",
        "namespace": namespace,
        "name": name,
        "principal": CI,
        "user_agent": make.CI_AGENT,
        "request": body,
        "response": body,
    }


def _delete(day, hour, minute, resource, namespace, name):
    return {
        "at": _at(day, hour, minute),
        "resource": resource,
        "verb": "delete",
        "namespace": namespace,
        "name": name,
        "principal": CI,
        "user_agent": make.CI_AGENT,
        "response": {"@type": "k8s.io/Status", "kind": "Status", "status": "Success"},
    }


def _warned(write: dict, approved: int) -> dict:
    """The write as a policy's Warn and Audit actions leave it in GKE's audit log: the
    annotation validation.policy.admission.k8s.io/validation_failure among the entry's labels,
    its message the policy's messageExpression (the policy tests check it word for word)."""
    target = f"{write['namespace']}/{write['name']}"
    if write["resource"] == "horizontalpodautoscalers":
        policy, what, value = objects.HPA_POLICY, "HPA maxReplicas", write["response"]["spec"]["maxReplicas"]
    else:
        policy, what, value = objects.DEPLOYMENT_POLICY, "replicas", write["response"]["spec"]["replicas"]
    failure = {
        "message": f"{what} {value} of {target} exceeds the approved max"
        f" of {approved} (replica-ledger, from PED): {objects.RAISE_HINT}",
        "policy": policy,
        "binding": policy,
        "expressionIndex": 0,
        "validationActions": ["Warn", "Audit"],
    }
    labels = {
        "authorization.k8s.io/decision": "allow",
        "authorization.k8s.io/reason": "access granted by IAM permissions.",
        "validation.policy.admission.k8s.io/validation_failure": json.dumps([failure], separators=(",", ":")),
    }
    return {**write, "labels": labels}


def writes() -> list[dict]:
    kubectl = make.KUBECTL_AGENT
    return [
        _hpa(8, 13, 5, "catalog", "catalog-api", 7, LEE, kubectl),
        _scale(8, 13, 12, "catalog", "catalog-api", 6),
        _hpa(8, 13, 50, "catalog", "catalog-api", 4, LEE, kubectl),
        _scale(8, 14, 5, "catalog", "catalog-api", 4),
        {**_metadata_only(9, 11, 30), "cluster": US},
        _warned(_hpa(10, 15, 20, "payments", "payments-api", 6, ANA, kubectl), approved=3),
        _redeploy(11, 9, 45, "payments", "payments-api", 3, "registry.demo.example/payments-api:2026.10.11"),
        _hpa(11, 9, 46, "payments", "payments-api", 6, CI, make.CI_AGENT, verb="update"),
        _scale(11, 11, 0, "payments", "payments-api", 4),
        _warned(_hpa(14, 10, 12, "orders", "orders-api", 8, SAM, kubectl), approved=4),
        _scale(15, 9, 0, "payments", "payments-api", 5),
        _delete(15, 12, 10, "horizontalpodautoscalers", "legacy", "legacy-api"),
        _delete(15, 12, 10, "deployments", "legacy", "legacy-api"),
        _warned(_scale(16, 12, 0, "orders", "orders-api", 6), approved=4),
        _scale(16, 12, 1, "kube-system", "kube-dns", 12),
        _scale(19, 3, 0, "orders", "orders-api", 3),
        _redeploy(20, 8, 20, "inventory", "inventory-api", 3, "registry.demo.example/inventory-api:2026.10.20"),
        _hpa(27, 16, 40, "orders", "orders-api", 4, SAM, kubectl),
    ]


def _metadata_only(day: int, hour: int, minute: int) -> dict:
    """A write logged without its bodies: who and when, not what."""
    return {
        "at": _at(day, hour, minute),
        "resource": "horizontalpodautoscalers",
        "verb": "patch",
        "namespace": "search",
        "name": "search-api",
        "principal": OPS,
        "user_agent": make.KUBECTL_AGENT,
    }


def audit_log_lines() -> list[str]:
    lines = []
    for number, write in enumerate(writes(), start=1):
        fields = {"cluster": EU, **write}
        lines.append(json.dumps(make.log_entry(insert_id=f"demo-{number:04d}", project=PROJECT, **fields)))
    return lines

"""Realistic Kubernetes audit lines in both input formats (tests and the demo's audit log).

`log_entry` builds a Cloud Logging `LogEntry` as `gcloud logging read --format=json` prints
GKE's Admin Activity entries; `k8s_event` an upstream `audit.k8s.io/v1` `Event`. Both take
the write's facts; the bodies are passed as logged (an object, a patch, a JSON patch list).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

KUBECTL_AGENT = "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46"
HPA_CONTROLLER = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
HPA_CONTROLLER_AGENT = f"kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46/{HPA_CONTROLLER}"
DEPLOYMENT_CONTROLLER = "system:serviceaccount:kube-system:deployment-controller"
CONSOLE_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0 Safari/537.36,gzip(gfe)"
)
CI_AGENT = "kubectl/v1.30.5 (linux/amd64) kubernetes/74e84a9"

_API = {"deployments": ("apps", "v1"), "horizontalpodautoscalers": ("autoscaling", "v2")}


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def resource_name(resource: str, namespace: str, name: str, subresource: str | None = None) -> str:
    group, version = _API[resource]
    tail = f"/{subresource}" if subresource else ""
    return f"{group}/{version}/namespaces/{namespace}/{resource}/{name}{tail}"


def method_name(resource: str, verb: str, subresource: str | None = None) -> str:
    group, version = _API[resource]
    parts = ["io.k8s", group, version, resource, *([subresource] if subresource else []), verb]
    return ".".join(parts)


def hpa_object(
    namespace: str, name: str, max_replicas: int, *, target: str | None = None, min_replicas: int = 2
) -> dict:
    return {
        "@type": "autoscaling.k8s.io/v2.HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target or name},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
        },
    }


def deployment_object(namespace: str, name: str, replicas: int, image: str = "registry.example/app:1") -> dict:
    return {
        "@type": "apps.k8s.io/v1.Deployment",
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": name, "image": image}]}}},
    }


def scale_object(namespace: str, name: str, replicas: int) -> dict:
    return {
        "@type": "autoscaling.k8s.io/v1.Scale",
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas},
    }


def log_entry(
    *,
    insert_id: str,
    at: datetime,
    cluster: str,
    resource: str,
    verb: str,
    namespace: str,
    name: str,
    principal: str,
    user_agent: str,
    request: Any = None,
    response: Any = None,
    subresource: str | None = None,
    status: dict | None = None,
    project: str = "example-prod",
    labels: dict | None = None,
) -> dict:
    """A GKE Admin Activity LogEntry; request/response None = left out (audit level Metadata).
    `labels`: the Kubernetes audit annotations GKE copies into the entry's labels."""
    method = method_name(resource, verb, subresource)
    path = resource_name(resource, namespace, name, subresource)
    payload: dict[str, Any] = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": principal},
        "authorizationInfo": [{"granted": True, "permission": method, "resource": path}],
        "methodName": method,
        "requestMetadata": {"callerIp": "10.1.2.3", "callerSuppliedUserAgent": user_agent},
        "resourceName": path,
        "serviceName": "k8s.io",
        "status": status or {},
    }
    if request is not None:
        payload["request"] = request
    if response is not None:
        payload["response"] = response
    return {
        "insertId": insert_id,
        "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2Factivity",
        "operation": {"first": True, "last": True, "id": f"op-{insert_id}", "producer": "k8s.io"},
        "protoPayload": payload,
        "receiveTimestamp": _stamp(at),
        "resource": {
            "type": "k8s_cluster",
            "labels": {"cluster_name": cluster, "location": "europe-west1", "project_id": project},
        },
        "severity": "NOTICE",
        "timestamp": _stamp(at),
        **({"labels": labels} if labels else {}),
    }


def k8s_event(
    *,
    audit_id: str,
    at: datetime,
    resource: str,
    verb: str,
    namespace: str,
    name: str,
    username: str,
    user_agent: str,
    request: Any = None,
    response: Any = None,
    subresource: str | None = None,
    level: str = "RequestResponse",
    stage: str = "ResponseComplete",
    code: int = 200,
    cluster: str | None = None,
) -> dict:
    """An upstream audit.k8s.io/v1 Event (the API server's log backend)."""
    group, version = _API[resource]
    tail = f"/{subresource}" if subresource else ""
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": audit_id,
        "stage": stage,
        "requestURI": f"/apis/{group}/{version}/namespaces/{namespace}/{resource}/{name}{tail}",
        "verb": verb,
        "user": {"username": username, "groups": ["system:authenticated"]},
        "sourceIPs": ["10.1.2.3"],
        "userAgent": user_agent,
        "objectRef": {
            "resource": resource,
            "namespace": namespace,
            "name": name,
            "apiGroup": group,
            "apiVersion": version,
            **({"subresource": subresource} if subresource else {}),
        },
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": _stamp(at),
        "stageTimestamp": _stamp(at),
    }
    if level in ("Request", "RequestResponse") and request is not None:
        event["requestObject"] = request
    if level == "RequestResponse" and response is not None:
        event["responseObject"] = response
    if cluster:
        event["cluster"] = cluster
    return event

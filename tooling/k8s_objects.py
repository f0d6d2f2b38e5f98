"""Builders for realistic Deployment and HPA objects, as `kubectl get -o json` prints them.

Used to generate the demo archive, test fixtures and the synthetic fleet of the
benchmarks, so that all of them exercise the same shapes the real API server returns.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta


def _uid(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def deployment_object(
    namespace: str,
    name: str,
    *,
    replicas: int,
    cpu: float = 1,
    memory_gb: float = 2,
    team: str | None = None,
    generation: int = 1,
    rollout_surge: int = 0,
    image_tag: str = "1.0.0",
) -> dict:
    """A Deployment; `rollout_surge` > 0 shows a rolling update half-way, with surge pods."""
    labels = {"app": name}
    if team:
        labels["team"] = team
    updated = replicas if rollout_surge == 0 else max(1, replicas // 2)
    status_replicas = replicas + rollout_surge
    status = {
        "observedGeneration": generation,
        "replicas": status_replicas,
        "updatedReplicas": updated,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {
                "type": "Progressing",
                "status": "True",
                "reason": "ReplicaSetUpdated" if rollout_surge else "NewReplicaSetAvailable",
            },
        ],
    }
    if rollout_surge:
        status["unavailableReplicas"] = rollout_surge
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": _uid("deploy", namespace, name),
            "generation": generation,
            "labels": labels,
            "creationTimestamp": "2026-01-15T09:00:00Z",
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"europe-docker.pkg.dev/platform/apis/{name}:{image_tag}",
                            "resources": {
                                "requests": {"cpu": f"{cpu:g}", "memory": f"{memory_gb:g}Gi"},
                                "limits": {"cpu": f"{cpu:g}", "memory": f"{memory_gb:g}Gi"},
                            },
                        }
                    ]
                },
            },
        },
        "status": status,
    }


def hpa_object(
    namespace: str,
    name: str,
    *,
    target: str,
    min_replicas: int,
    max_replicas: int,
    current: int,
    desired: int | None = None,
    api_version: str = "autoscaling/v2",
) -> dict:
    desired = current if desired is None else desired
    spec: dict = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
    }
    if api_version == "autoscaling/v1":
        spec["targetCPUUtilizationPercentage"] = 70
        status = {"currentReplicas": current, "desiredReplicas": desired, "currentCPUUtilizationPercentage": 55}
    else:
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
            }
        ]
        status = {
            "currentReplicas": current,
            "desiredReplicas": desired,
            "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"}],
        }
    return {
        "apiVersion": api_version,
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace, "uid": _uid("hpa", namespace, name)},
        "spec": spec,
        "status": status,
    }


def kubectl_list(items: list[dict]) -> dict:
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


def capture_time(day: date, minute: int = 4, second: int = 0) -> str:
    """A snapshot of day D is captured a few minutes after the following midnight."""
    moment = datetime.combine(day + timedelta(days=1), time(0, minute, second), tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

"""The Kubernetes objects of contract section 8, built from the approved limits alone.

Plain functions of plain data (no warehouse, no clock, no file): the same limits give the
same objects, and `render` gives the same bytes, so two days with an unchanged registry
write identical files and a PED raise changes one ConfigMap key.

    ConfigMap  replica-ledger-limits        one per namespace: deployment -> approved max
    ValidatingAdmissionPolicy (+ Binding)   deployments and deployments/scale: spec.replicas
                                            horizontalpodautoscalers: spec.maxReplicas of the
                                            Deployment named by scaleTargetRef
    ClusterRules replica-ledger-limits      one per cluster: the approved max as a recording
                                            rule, ReplicaLimitExceeded for HPA max and replicas
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from replica_ledger.contract import MAX_REPLICA_COUNT, is_dns1123_label, is_dns1123_subdomain

MANAGED_BY = {"app.kubernetes.io/managed-by": "replica-ledger"}
PARAMS_NAME = "replica-ledger-limits"
RULES_NAME = "replica-ledger-limits"
DEPLOYMENT_POLICY = "replica-ledger-deployment-replicas"
HPA_POLICY = "replica-ledger-hpa-max-replicas"
POLICY_NAMES = (DEPLOYMENT_POLICY, HPA_POLICY)
APPROVED_METRIC = "replica_ledger:approved_max_replicas"
ALERT_NAME = "ReplicaLimitExceeded"
ALERT_FOR = "5m"
RULES_INTERVAL = "1m"

# Where the message sends a team: PED is the only way a max is raised. It goes into a CEL
# string literal too: no quote, no backslash (held by a test).
RAISE_HINT = "raise the approved max through PED (the limits file of the API), then retry"


@dataclass(frozen=True, order=True)
class Limit:
    """One API's approved max in force (a row of dim_replica_limits)."""

    namespace: str
    deployment: str
    max_replicas: int


class LimitRefused(ValueError):
    """A row that cannot become a Kubernetes key (never expected from dim_replica_limits)."""


def checked(limits: Iterable[Limit]) -> list[Limit]:
    """The limits sorted, each name a Kubernetes name and each max a replica count; one API once."""
    seen: dict[tuple[str, str], Limit] = {}
    for limit in limits:
        if not is_dns1123_label(limit.namespace) or not is_dns1123_subdomain(limit.deployment):
            raise LimitRefused(f"{limit.namespace!r}/{limit.deployment!r} is not a Kubernetes namespace/name")
        if not 0 <= limit.max_replicas <= MAX_REPLICA_COUNT:
            raise LimitRefused(f"{limit.namespace}/{limit.deployment}: max {limit.max_replicas} is not a replica count")
        key = (limit.namespace, limit.deployment)
        if key in seen and seen[key] != limit:
            raise LimitRefused(f"{limit.namespace}/{limit.deployment} has two current limits")
        seen[key] = limit
    return sorted(seen.values())


# --------------------------------------------------------------------------- parameters


def config_maps(limits: list[Limit], emptied_namespaces: Iterable[str] = ()) -> list[dict]:
    """One ConfigMap per namespace with a limit; `emptied_namespaces` (a limit there once, none
    now) get one with no key, so that applying it removes the keys of removed limits."""
    by_namespace: dict[str, dict[str, str]] = {namespace: {} for namespace in emptied_namespaces}
    for limit in limits:
        by_namespace.setdefault(limit.namespace, {})[limit.deployment] = str(limit.max_replicas)
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": PARAMS_NAME, "namespace": namespace, "labels": dict(MANAGED_BY)},
            "data": dict(sorted(data.items())),
        }
        for namespace, data in sorted(by_namespace.items())
    ]


# --------------------------------------------------------------------------- admission

# The approved max of the API named `name` (a CEL string expression), or '' when the
# namespace's ConfigMap has no such key or a value that is not a count: such a write is
# allowed (the ledger reports an unregistered API; admission does not block it).
_APPROVED = "params.?data[?{name}].orValue('')"
_COUNT = "'^[0-9]{1,9}$'"


def _message(value: str, what: str) -> str:
    return (
        f"'{what} ' + string({value}) + ' of ' + request.namespace + '/' + variables.api"
        " + ' exceeds the approved max of ' + variables.approved"
        f" + ' (replica-ledger, from PED): {RAISE_HINT}'"
    )


def deployment_policy() -> dict:
    """Deployments and their /scale subresource (`kubectl scale`, the HPA controller): a
    Scale's metadata.name is the Deployment's, its spec.replicas the count asked for.
    Only spec.replicas counts: a rollout's surge (status.replicas) is not a write to it."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": DEPLOYMENT_POLICY, "labels": dict(MANAGED_BY)},
        "spec": {
            # An evaluation error lets the write through: the ledger still sees it the next day.
            "failurePolicy": "Ignore",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {
                "matchPolicy": "Equivalent",
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["deployments", "deployments/scale"],
                        "scope": "Namespaced",
                    }
                ],
            },
            "variables": [
                {"name": "api", "expression": "object.metadata.name"},
                # A Scale omits spec.replicas when it is 0; a Deployment's is defaulted to 1 before admission.
                {"name": "replicas", "expression": "object.spec.?replicas.orValue(0)"},
                {"name": "approved", "expression": _APPROVED.format(name="variables.api")},
            ],
            "validations": [
                {
                    "expression": f"!variables.approved.matches({_COUNT})"
                    " || variables.replicas <= int(variables.approved)",
                    "messageExpression": _message("variables.replicas", "replicas"),
                    "message": f"replicas exceed the approved max of this Deployment: {RAISE_HINT}",
                    "reason": "Forbidden",
                }
            ],
        },
    }


def hpa_policy() -> dict:
    """HorizontalPodAutoscalers (autoscaling/v1 and v2 share the two fields read): the HPA's
    maxReplicas against the approval of the Deployment its scaleTargetRef names."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": HPA_POLICY, "labels": dict(MANAGED_BY)},
        "spec": {
            "failurePolicy": "Ignore",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {
                "matchPolicy": "Equivalent",
                "resourceRules": [
                    {
                        "apiGroups": ["autoscaling"],
                        "apiVersions": ["v1", "v2"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["horizontalpodautoscalers"],
                        "scope": "Namespaced",
                    }
                ],
            },
            "variables": [
                {
                    "name": "api",
                    "expression": "object.spec.scaleTargetRef.kind == 'Deployment'"
                    " ? object.spec.scaleTargetRef.name : ''",
                },
                {"name": "approved", "expression": _APPROVED.format(name="variables.api")},
            ],
            "validations": [
                {
                    "expression": f"variables.api == '' || !variables.approved.matches({_COUNT})"
                    " || object.spec.maxReplicas <= int(variables.approved)",
                    "messageExpression": _message("object.spec.maxReplicas", "HPA maxReplicas"),
                    "message": f"the HPA's maxReplicas exceeds the approved max of its Deployment: {RAISE_HINT}",
                    "reason": "Forbidden",
                }
            ],
        },
    }


def binding(policy_name: str, actions: tuple[str, ...]) -> dict:
    """The param is the ConfigMap named PARAMS_NAME in the object's own namespace (paramRef
    without a namespace, on a namespaced paramKind); a namespace without one is allowed."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy_name, "labels": dict(MANAGED_BY)},
        "spec": {
            "policyName": policy_name,
            "paramRef": {"name": PARAMS_NAME, "parameterNotFoundAction": "Allow"},
            "validationActions": list(actions),
        },
    }


def admission(actions: tuple[str, ...]) -> list[dict]:
    return [deployment_policy(), hpa_policy(), *(binding(name, actions) for name in POLICY_NAMES)]


# --------------------------------------------------------------------------- real time

# The HPA side: its max, named after the Deployment its scaleTargetRef names (info is 1).
_HPA_MAX = (
    "max by (cluster, namespace, deployment) (label_replace("
    "kube_horizontalpodautoscaler_spec_max_replicas"
    " * on (cluster, namespace, horizontalpodautoscaler) group_left (scaletargetref_name)"
    " max by (cluster, namespace, horizontalpodautoscaler, scaletargetref_name)"
    ' (kube_horizontalpodautoscaler_info{scaletargetref_kind="Deployment"}),'
    ' "deployment", "$1", "scaletargetref_name", "(.+)"))'
)
_REPLICAS = "max by (cluster, namespace, deployment) (kube_deployment_spec_replicas)"
# GMP adds the cluster's own labels to the recorded series: joined on the API alone.
_OVER_APPROVED = f" > on (namespace, deployment) group_left () max by (namespace, deployment) ({APPROVED_METRIC})"


def _alert(expr: str, breach_type: str, what: str) -> dict:
    return {
        "alert": ALERT_NAME,
        "expr": expr + _OVER_APPROVED,
        "for": ALERT_FOR,
        "labels": {"breach_type": breach_type},
        "annotations": {
            "summary": f"{what} {{{{ $value }}}} of {{{{ $labels.namespace }}}}/{{{{ $labels.deployment }}}}"
            f" on {{{{ $labels.cluster }}}} is above its approved max: {RAISE_HINT}",
        },
    }


def cluster_rules(cluster: str, limits: list[Limit]) -> dict:
    """The cluster's ClusterRules. The alert's `cluster` label comes from the series (GMP
    refuses a rule that sets it: the rule evaluator adds it from the cluster it runs in)."""
    recorded = [
        {
            "record": APPROVED_METRIC,
            "expr": f"vector({limit.max_replicas})",
            "labels": {"namespace": limit.namespace, "deployment": limit.deployment},
        }
        for limit in limits
    ]
    alerts = [
        _alert(_HPA_MAX, "hpa_max_over_limit", "HPA maxReplicas"),
        _alert(_REPLICAS, "replicas_over_limit", "spec.replicas"),
    ]
    groups = [{"name": "replica-ledger-alerts", "interval": RULES_INTERVAL, "rules": alerts}]
    if recorded:
        groups.insert(0, {"name": "replica-ledger-approved-max", "interval": RULES_INTERVAL, "rules": recorded})
    return {
        "apiVersion": "monitoring.googleapis.com/v1",
        "kind": "ClusterRules",
        "metadata": {
            "name": RULES_NAME,
            "labels": dict(MANAGED_BY),
            "annotations": {"replica-ledger/cluster": cluster},
        },
        "spec": {"groups": groups},
    }

"""A small ValidatingAdmissionPolicy evaluator for the tests, on a real CEL runtime.

It follows the Kubernetes documentation ("Validating Admission Policy", and the API
reference of ValidatingAdmissionPolicy / ValidatingAdmissionPolicyBinding / ParamRef):

1. a policy applies when one of its matchConstraints.resourceRules matches the request's
   group, version, resource (`deployments/scale` for a subresource), operation and scope;
2. each binding of the policy finds its param: paramRef.name in paramRef.namespace, or,
   that being unset with a namespaced paramKind, in the namespace of the object; none
   found -> parameterNotFoundAction (Allow: the binding passes, nothing is evaluated);
3. the variables are evaluated in order (`variables.<name>`), then each validation: false
   -> a failure with messageExpression's string (its `message` when that is empty or fails);
   an evaluation error follows failurePolicy (Ignore: the validation passes);
4. a failure's actions are the binding's validationActions: Deny refuses the request, Warn
   adds a warning, Audit adds the `validation.policy.admission.k8s.io/validation_failure`
   audit annotation (a JSON list of {message, policy, binding, expressionIndex,
   validationActions}).

The CEL environment declares `object`, `oldObject`, `request`, `params`, `namespaceObject`
and `variables`, with the optional-field syntax (`.?`, `orValue`) and the strings library
Kubernetes enables. Nothing here is a Kubernetes API server: matchConditions, selectors and
the authorizer are not used by the policies under test and are refused if present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache

from cel_expr_python import cel
from cel_expr_python.ext import ext_optional, ext_strings

AUDIT_KEY = "validation.policy.admission.k8s.io/validation_failure"
# `self`: a CRD's x-kubernetes-validations rules (the GMP schema's) run in the same runtime.
_NAMES = ("object", "oldObject", "request", "params", "namespaceObject", "variables", "self")


@cache
def _env():
    return cel.NewEnv(
        variables={name: cel.Type.DYN for name in _NAMES},
        extensions=[ext_optional.ExtOptional(), ext_strings.ExtStrings()],
    )


@cache
def compile_expression(expression: str):
    """Compiled once per text; a syntax error raises here (a generated policy must compile)."""
    return _env().compile(expression)


def evaluate(expression: str, data: dict):
    return compile_expression(expression).eval(data=data).plain_value()


@dataclass
class Request:
    """One admission request: `kubectl apply` of a Deployment, `kubectl scale`, an HPA edit."""

    group: str
    version: str
    resource: str
    operation: str
    namespace: str
    object: dict
    subresource: str = ""
    old_object: dict | None = None
    user: str = "someone@example.com"

    def attributes(self) -> dict:
        return {
            "kind": {"group": self.group, "version": self.version, "kind": self.object.get("kind", "")},
            "resource": {"group": self.group, "version": self.version, "resource": self.resource},
            "subResource": self.subresource,
            "name": self.object.get("metadata", {}).get("name", ""),
            "namespace": self.namespace,
            "operation": self.operation,
            "userInfo": {"username": self.user},
            "dryRun": False,
        }


@dataclass
class Decision:
    allowed: bool = True
    warnings: list[str] = field(default_factory=list)
    audit_annotations: dict[str, str] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """Refused or warned: what the ledger would call a breach at that moment."""
        return not self.allowed or bool(self.warnings)


def _rule_matches(rule: dict, request: Request) -> bool:
    resource = f"{request.resource}/{request.subresource}" if request.subresource else request.resource
    return (
        request.group in rule["apiGroups"]
        and request.version in rule["apiVersions"]
        and (request.operation in rule["operations"] or "*" in rule["operations"])
        and resource in rule["resources"]
        and rule.get("scope", "*") in ("*", "Namespaced")
    )


def policy_matches(policy: dict, request: Request) -> bool:
    spec = policy["spec"]
    unsupported = {"matchConditions"} & set(spec) | {
        "namespaceSelector",
        "objectSelector",
        "excludeResourceRules",
    } & set(spec["matchConstraints"])
    if unsupported:
        raise NotImplementedError(f"the harness does not evaluate {sorted(unsupported)}")
    return any(_rule_matches(rule, request) for rule in spec["matchConstraints"]["resourceRules"])


def _find_param(policy: dict, binding: dict, request: Request, params: list[dict]) -> dict | None:
    kind = policy["spec"]["paramKind"]
    ref = binding["spec"]["paramRef"]
    if "selector" in ref:
        raise NotImplementedError("the harness looks params up by name only")
    # A namespaced paramKind with paramRef.namespace unset: the object's own namespace.
    namespace = ref.get("namespace") or request.namespace
    for param in params:
        meta = param["metadata"]
        if (
            param["apiVersion"] == kind["apiVersion"]
            and param["kind"] == kind["kind"]
            and meta["name"] == ref["name"]
            and meta.get("namespace") == namespace
        ):
            return param
    return None


def admit(documents: list[dict], params: list[dict], request: Request) -> Decision:
    """The decision of every policy and binding in `documents` on `request`."""
    policies = {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == "ValidatingAdmissionPolicy"}
    bindings = [doc for doc in documents if doc["kind"] == "ValidatingAdmissionPolicyBinding"]
    decision = Decision()
    audit_values = []
    for binding in bindings:
        policy = policies.get(binding["spec"]["policyName"])
        if policy is None or not policy_matches(policy, request):
            continue
        actions = binding["spec"]["validationActions"]
        if "Deny" in actions and "Warn" in actions:
            raise ValueError(f"binding {binding['metadata']['name']}: Deny and Warn together are refused by the API")
        param = _find_param(policy, binding, request, params)
        if param is None:
            if binding["spec"]["paramRef"].get("parameterNotFoundAction", "Deny") == "Allow":
                continue
            raise NotImplementedError("parameterNotFoundAction Deny is not used by the policies under test")
        for index, message in _failures(policy, param, request):
            failure = {
                "message": message,
                "policy": policy["metadata"]["name"],
                "binding": binding["metadata"]["name"],
                "expressionIndex": index,
                "validationActions": list(actions),
            }
            decision.failures.append(failure)
            if "Deny" in actions:
                decision.allowed = False
            if "Warn" in actions:
                decision.warnings.append(
                    f"Validation failed for ValidatingAdmissionPolicy '{failure['policy']}'"
                    f" with binding '{failure['binding']}': {message}"
                )
            if "Audit" in actions:
                audit_values.append(failure)
    if audit_values:
        decision.audit_annotations[AUDIT_KEY] = json.dumps(audit_values, separators=(",", ":"))
    return decision


def _failures(policy: dict, param: dict, request: Request) -> list[tuple[int, str]]:
    spec = policy["spec"]
    ignore_errors = spec.get("failurePolicy", "Fail") == "Ignore"
    data = {
        "object": request.object,
        "oldObject": request.old_object,
        "request": request.attributes(),
        "params": param,
        "namespaceObject": {"metadata": {"name": request.namespace}},
        "variables": {},
    }
    try:
        for variable in spec.get("variables", []):
            data["variables"] = {**data["variables"], variable["name"]: evaluate(variable["expression"], data)}
    except Exception as exc:  # an evaluation error: failurePolicy decides
        if ignore_errors:
            return []
        return [(0, f"evaluation error: {exc}")]
    failures = []
    for index, validation in enumerate(spec["validations"]):
        try:
            passed = evaluate(validation["expression"], data)
        except Exception as exc:
            if ignore_errors:
                continue
            failures.append((index, f"evaluation error: {exc}"))
            continue
        if passed is True:
            continue
        message = validation.get("message") or f"failed expression: {validation['expression']}"
        if "messageExpression" in validation:
            try:
                text = evaluate(validation["messageExpression"], data)
                message = text if isinstance(text, str) and text.strip() else message
            except Exception:  # the documented fallback: the static message
                pass
        failures.append((index, message))
    return failures


# --------------------------------------------------------------------------- request builders


def deployment_request(namespace: str, name: str, replicas: int, *, operation: str = "UPDATE", status=None) -> Request:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas},
    }
    if status is not None:
        obj["status"] = status
    return Request("apps", "v1", "deployments", operation, namespace, obj)


def scale_request(namespace: str, name: str, replicas: int) -> Request:
    """What `kubectl scale deployment/NAME --replicas=N` sends: an autoscaling/v1 Scale to /scale."""
    spec = {"replicas": replicas} if replicas else {}  # omitempty: a Scale to 0 has no spec.replicas
    obj = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    return Request("apps", "v1", "deployments", "UPDATE", namespace, obj, subresource="scale")


def hpa_request(
    namespace: str, name: str, max_replicas: int, *, target: str | None = None, kind: str = "Deployment", version="v2"
) -> Request:
    obj = {
        "apiVersion": f"autoscaling/{version}",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target or name},
            "minReplicas": 1,
            "maxReplicas": max_replicas,
        },
    }
    return Request("autoscaling", version, "horizontalpodautoscalers", "UPDATE", namespace, obj)

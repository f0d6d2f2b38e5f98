"""The generated policies' CEL, run in a real CEL runtime (cel-expr-python) by the harness of
`admission.py`: which writes are refused or warned, with which message, under which action."""

from __future__ import annotations

import json

import pytest
import yaml

from replica_ledger.policies import folder, objects
from tests.replica_ledger.policies.admission import (
    AUDIT_KEY,
    admit,
    compile_expression,
    deployment_request,
    hpa_request,
    scale_request,
)

LIMITS = [
    objects.Limit("payments", "payments-api", 6),
    objects.Limit("orders", "orders-api", 4),
    objects.Limit("catalog", "catalog-api", 4),
]
WARN = ("Warn", "Audit")
DENY = ("Deny", "Audit")


def generated(actions=WARN, limits=LIMITS) -> tuple[list[dict], list[dict]]:
    """The policies and ConfigMaps as written to the folder, read back from their YAML."""
    files = folder.build_files(limits, ["gke-eu"], actions).files
    return list(yaml.safe_load_all(files[folder.ADMISSION])), list(yaml.safe_load_all(files[folder.CONFIG_MAPS]))


def test_every_expression_compiles():
    policies, _ = generated()
    expressions = [
        text
        for policy in policies
        if policy["kind"] == "ValidatingAdmissionPolicy"
        for item in [*policy["spec"]["variables"], *policy["spec"]["validations"]]
        for key, text in item.items()
        if key in ("expression", "messageExpression")
    ]
    assert len(expressions) == 9
    for text in expressions:
        compile_expression(text)


def test_a_deployment_over_its_approved_max_is_warned_and_audited_with_the_max_and_ped():
    policies, params = generated()
    decision = admit(policies, params, deployment_request("orders", "orders-api", 5))
    assert decision.allowed
    assert len(decision.warnings) == 1
    assert "replicas 5 of orders/orders-api exceeds the approved max of 4" in decision.warnings[0]
    assert "raise the approved max through PED" in decision.warnings[0]
    [audit] = json.loads(decision.audit_annotations[AUDIT_KEY])
    assert audit["policy"] == audit["binding"] == objects.DEPLOYMENT_POLICY
    assert audit["validationActions"] == ["Warn", "Audit"]


def test_deny_refuses_the_same_write_and_still_audits_it():
    policies, params = generated(DENY)
    decision = admit(policies, params, deployment_request("orders", "orders-api", 5, operation="CREATE"))
    assert not decision.allowed and not decision.warnings
    assert AUDIT_KEY in decision.audit_annotations


@pytest.mark.parametrize("replicas", [1, 4])
def test_a_deployment_at_or_under_its_max_passes(replicas):
    policies, params = generated(DENY)
    decision = admit(policies, params, deployment_request("orders", "orders-api", replicas))
    assert decision.allowed and not decision.warnings and not decision.audit_annotations


def test_a_rollout_surge_is_not_a_write_over_the_limit():
    """Mid-rollout status.replicas is above spec.replicas (maxSurge): only spec counts."""
    policies, params = generated(DENY)
    surge = {"replicas": 6, "updatedReplicas": 2, "readyReplicas": 4}
    assert admit(policies, params, deployment_request("catalog", "catalog-api", 4, status=surge)).allowed


def test_kubectl_scale_goes_through_the_scale_subresource_over_and_under():
    policies, params = generated(DENY)
    over = admit(policies, params, scale_request("payments", "payments-api", 7))
    assert not over.allowed
    assert "replicas 7 of payments/payments-api exceeds the approved max of 6" in over.failures[0]["message"]
    assert admit(policies, params, scale_request("payments", "payments-api", 6)).allowed
    assert admit(policies, params, scale_request("payments", "payments-api", 0)).allowed  # no spec.replicas at 0


def test_an_hpa_is_judged_by_the_approval_of_its_target_deployment():
    policies, params = generated(DENY)
    assert admit(policies, params, hpa_request("payments", "payments-api", 6)).allowed  # within its limit
    over = admit(policies, params, hpa_request("payments", "payments-hpa", 8, target="payments-api"))
    assert not over.allowed
    assert "HPA maxReplicas 8 of payments/payments-api exceeds the approved max of 6" in over.failures[0]["message"]
    assert not admit(policies, params, hpa_request("payments", "payments-api", 7, version="v1")).allowed


def test_an_hpa_of_another_kind_of_target_is_not_judged():
    policies, params = generated(DENY)
    assert admit(policies, params, hpa_request("payments", "payments-api", 50, kind="StatefulSet")).allowed


def test_an_unregistered_api_and_a_namespace_without_limits_are_allowed():
    policies, params = generated(DENY)
    assert admit(policies, params, deployment_request("payments", "shadow-api", 50)).allowed  # no key
    assert admit(policies, params, deployment_request("sandbox", "shadow-api", 50)).allowed  # no ConfigMap
    assert admit(policies, params, hpa_request("sandbox", "shadow-api", 50)).allowed


def test_a_hand_edited_value_that_is_not_a_count_lets_writes_through():
    policies, params = generated(DENY)
    edited = [
        {**param, "data": {"orders-api": "four"}} if param["metadata"]["namespace"] == "orders" else param
        for param in params
    ]
    assert admit(policies, edited, deployment_request("orders", "orders-api", 9)).allowed


def test_the_param_is_the_configmap_of_the_objects_own_namespace():
    """payments' ConfigMap says nothing about an orders-api in another namespace."""
    policies, params = generated(DENY)
    assert admit(policies, params, deployment_request("payments", "orders-api", 9)).allowed
    assert not admit(policies, params, deployment_request("orders", "orders-api", 9)).allowed


def test_a_removed_limit_is_no_longer_enforced():
    policies, params = generated(DENY, [limit for limit in LIMITS if limit.deployment != "orders-api"])
    assert admit(policies, params, deployment_request("orders", "orders-api", 9)).allowed

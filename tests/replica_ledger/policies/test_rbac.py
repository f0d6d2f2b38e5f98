"""deploy/policy-apply-rbac.yaml: valid Kubernetes, and least privilege: every rule names
its objects, those are exactly the objects a day's folder holds, and the verbs are the
ones server-side apply needs."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from replica_ledger.policies import folder, objects

RBAC = Path(__file__).resolve().parents[3] / "deploy" / "policy-apply-rbac.yaml"
RESOURCES = {  # kind -> (API group, resource)
    "ConfigMap": ("", "configmaps"),
    "ValidatingAdmissionPolicy": ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    "ValidatingAdmissionPolicyBinding": ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
    "ClusterRules": ("monitoring.googleapis.com", "clusterrules"),
}


def rbac() -> list[dict]:
    return list(yaml.safe_load_all(RBAC.read_text()))


@pytest.mark.parametrize("version", ["1.30.0", "1.33.0"])
def test_the_rbac_manifests_validate(version):
    for doc in rbac():
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_role_covers_exactly_the_objects_of_a_day_and_nothing_more():
    (role,) = [doc for doc in rbac() if doc["kind"] == "ClusterRole"]
    granted = {
        (group, resource, name)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for name in rule["resourceNames"]
    }
    assert all(rule.get("resourceNames") for rule in role["rules"])
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"get", "create", "patch"}
    files = folder.build_files([objects.Limit("orders", "orders-api", 4)], ["gke-eu"], ("Warn", "Audit")).files
    needed = {
        (*RESOURCES[doc["kind"]], doc["metadata"]["name"])
        for name, data in files.items()
        if name.endswith(".yaml")
        for doc in yaml.safe_load_all(data)
    }
    assert granted == needed


def test_the_binding_names_the_pods_service_account():
    from replica_ledger.settings import Settings

    (binding,) = [doc for doc in rbac() if doc["kind"] == "ClusterRoleBinding"]
    (subject,) = binding["subjects"]
    assert subject["name"] == Settings().policy_apply_service_account

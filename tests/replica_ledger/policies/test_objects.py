"""The generated objects: valid against Kubernetes 1.30 to 1.33 (kubernetes-validate, strict)
and against the GMP ClusterRules schema (jsonschema and the CRD's CEL rules); the folder's
bytes stable when no limit changed; one key changed by a PED raise; bad rows refused."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from replica_ledger.policies import folder, objects
from tests.replica_ledger.policies.admission import evaluate

SCHEMA = Path(__file__).resolve().parents[2] / "support" / "gmp_clusterrules.schema.json"
KUBERNETES_VERSIONS = ("1.30.0", "1.31.0", "1.32.0", "1.33.0")
LIMITS = [
    objects.Limit("payments", "payments-api", 6),
    objects.Limit("orders", "orders-api", 4),
    objects.Limit("orders", "orders-worker", 2),
    objects.Limit("catalog", "catalog-api", 4),
]
CLUSTERS = ["gke-demo-us", "gke-demo-eu"]
DAY = date(2026, 10, 11)


def documents(files: dict[str, bytes]) -> list[dict]:
    return [doc for name, data in sorted(files.items()) if name.endswith(".yaml") for doc in yaml.safe_load_all(data)]


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return folder.build_files(LIMITS, CLUSTERS, ("Warn", "Audit"), emptied_namespaces=["legacy"]).files


def test_the_folder_holds_the_objects_of_contract_section_8(files):
    assert sorted(files) == [
        "admission.yaml",
        "clusterrules-gke-demo-eu.yaml",
        "clusterrules-gke-demo-us.yaml",
        "configmaps.yaml",
        "manifest.json",
    ]
    kinds = [(doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]) for doc in documents(files)]
    assert kinds == [
        ("ValidatingAdmissionPolicy", None, objects.DEPLOYMENT_POLICY),
        ("ValidatingAdmissionPolicy", None, objects.HPA_POLICY),
        ("ValidatingAdmissionPolicyBinding", None, objects.DEPLOYMENT_POLICY),
        ("ValidatingAdmissionPolicyBinding", None, objects.HPA_POLICY),
        ("ClusterRules", None, "replica-ledger-limits"),
        ("ClusterRules", None, "replica-ledger-limits"),
        ("ConfigMap", "catalog", "replica-ledger-limits"),
        ("ConfigMap", "legacy", "replica-ledger-limits"),
        ("ConfigMap", "orders", "replica-ledger-limits"),
        ("ConfigMap", "payments", "replica-ledger-limits"),
    ]
    config_maps = {doc["metadata"]["namespace"]: doc for doc in documents(files) if doc["kind"] == "ConfigMap"}
    assert config_maps["orders"]["data"] == {"orders-api": "4", "orders-worker": "2"}
    assert config_maps["legacy"]["data"] == {}  # its last limit was removed: applying it removes the key
    assert all(
        doc["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "replica-ledger"} for doc in documents(files)
    )


def test_the_manifest_names_every_file_with_its_sha256(files):
    manifest = json.loads(files[folder.MANIFEST])
    assert {item["name"]: item["sha256"] for item in manifest["files"]} == {
        name: hashlib.sha256(data).hexdigest() for name, data in files.items() if name != folder.MANIFEST
    }
    assert manifest["limits"] == 4 and manifest["clusters"] == sorted(CLUSTERS)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_object_validates_strictly(files, version):
    validated = 0
    for doc in documents(files):
        if doc["kind"] != "ClusterRules":
            kubernetes_validate.validate(doc, version, strict=True)
            validated += 1
    assert validated == 8


def test_a_wrong_field_is_caught_by_the_validator(files):
    """The validation above is not vacuous: a misspelt field of a binding fails it."""
    binding = next(doc for doc in documents(files) if doc["kind"] == "ValidatingAdmissionPolicyBinding")
    binding["spec"]["paramRef"]["parameterNotFound"] = "Allow"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(binding, "1.30.0", strict=True)


_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def _crd_rules(schema: dict, value, path=""):
    """Yield (rule, value) for each x-kubernetes-validations rule of the schema on `value`."""
    for rule in schema.get("x-kubernetes-validations", []):
        yield rule, value, path
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                yield from _crd_rules(sub, value[key], f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _crd_rules(schema["items"], item, f"{path}[{index}]")


def test_every_cluster_rules_validates_against_the_gmp_schema_and_its_cel_rules(files):
    schema = json.loads(SCHEMA.read_text())
    rules_docs = [doc for doc in documents(files) if doc["kind"] == "ClusterRules"]
    checked = 0
    for doc in rules_docs:
        jsonschema.validate(doc, schema)
        for rule, value, path in _crd_rules(schema, doc):
            assert evaluate(rule["rule"], {"self": value}) is True, (path, rule["message"])
            checked += 1
        for group in doc["spec"]["groups"]:
            assert _DURATION.match(group["interval"])
            for rule in group["rules"]:
                assert "for" not in rule or _DURATION.match(rule["for"])
                assert "cluster" not in rule.get("labels", {})  # GMP refuses a rule that sets it
    assert checked == 2 * (len(LIMITS) + 2) * 2


def test_the_gmp_cel_rules_catch_a_rule_with_both_record_and_alert():
    schema = json.loads(SCHEMA.read_text())
    doc = objects.cluster_rules("gke-eu", LIMITS)
    doc["spec"]["groups"][0]["rules"][0]["alert"] = "Both"
    results = [evaluate(rule["rule"], {"self": value}) for rule, value, _ in _crd_rules(schema, doc)]
    assert False in results


def test_two_days_with_the_same_limits_are_byte_identical(tmp_path):
    first = folder.build_files(LIMITS, CLUSTERS, ("Warn", "Audit"))
    second = folder.build_files(list(reversed(LIMITS)), list(reversed(CLUSTERS)), ("Warn", "Audit"))
    folder.write_local(tmp_path, DAY, first)
    folder.write_local(tmp_path, date(2026, 10, 12), second)
    assert folder.read_local(tmp_path, DAY) == folder.read_local(tmp_path, date(2026, 10, 12)) == first.files


def test_a_ped_raise_changes_exactly_one_key():
    before = folder.build_files(LIMITS, CLUSTERS, ("Warn", "Audit")).files
    raised = [
        objects.Limit("orders", "orders-api", 5) if limit.deployment == "orders-api" else limit for limit in LIMITS
    ]
    after = folder.build_files(raised, CLUSTERS, ("Warn", "Audit")).files
    changed = sorted(name for name in before if before[name] != after[name])
    assert changed == [
        "clusterrules-gke-demo-eu.yaml",
        "clusterrules-gke-demo-us.yaml",
        "configmaps.yaml",
        "manifest.json",
    ]
    old = {d["metadata"]["namespace"]: d["data"] for d in yaml.safe_load_all(before["configmaps.yaml"])}
    new = {d["metadata"]["namespace"]: d["data"] for d in yaml.safe_load_all(after["configmaps.yaml"])}
    diffs = [(ns, key) for ns in old for key in old[ns] | new[ns] if old[ns].get(key) != new[ns].get(key)]
    assert diffs == [("orders", "orders-api")]
    assert new["orders"]["orders-api"] == "5"
    diff_lines = [
        line for line in before["configmaps.yaml"].splitlines() if line not in after["configmaps.yaml"].splitlines()
    ]
    assert diff_lines == [b"  orders-api: '4'"]


@pytest.mark.parametrize(
    ("limit", "reason"),
    [
        (objects.Limit("Orders", "orders-api", 4), "not a Kubernetes namespace/name"),
        (objects.Limit("orders", "orders api", 4), "not a Kubernetes namespace/name"),
        (objects.Limit("orders", "orders-api", -1), "not a replica count"),
    ],
)
def test_a_row_that_cannot_be_a_kubernetes_key_is_refused(limit, reason):
    with pytest.raises(objects.LimitRefused, match=reason):
        objects.checked([limit])


def test_the_raise_hint_fits_in_a_cel_string_literal():
    assert not set("'\"\\") & set(objects.RAISE_HINT)

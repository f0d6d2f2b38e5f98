"""Audit lines of every write method, in both formats, -> the normalized write row (or why not)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from replica_ledger.audit.entries import CLOUD_LOGGING, K8S_AUDIT, EntryError, read_entry
from replica_ledger.audit.writes import Quarantine, Skip, tool_of, write_row
from replica_ledger.contract import DEFAULT_EXCLUDED_NAMESPACES
from tooling import audit_entries as make

AT = datetime(2026, 10, 11, 13, 2, 11, 118244, tzinfo=UTC)
PERSON = "dev@example.com"
CI_SA = "ci-deployer@example-prod.iam.gserviceaccount.com"

# The two lines of the contract's example (shared/examples/audit_log.jsonl), verbatim.
EXAMPLE_HPA_PATCH = {
    "insertId": "ex-1",
    "logName": "projects/example-prod/logs/cloudaudit.googleapis.com%2Factivity",
    "operation": {"first": True, "last": True, "id": "op-ex-1", "producer": "k8s.io"},
    "protoPayload": {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": "dev@example.com"},
        "authorizationInfo": [
            {
                "granted": True,
                "permission": "io.k8s.autoscaling.v2.horizontalpodautoscalers.patch",
                "resource": "autoscaling/v2/namespaces/pricing/horizontalpodautoscalers/quote-api",
            }
        ],
        "methodName": "io.k8s.autoscaling.v2.horizontalpodautoscalers.patch",
        "request": {"@type": "k8s.io/Patch", "spec": {"maxReplicas": 7}},
        "requestMetadata": {
            "callerIp": "10.1.2.3",
            "callerSuppliedUserAgent": "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
        },
        "resourceName": "autoscaling/v2/namespaces/pricing/horizontalpodautoscalers/quote-api",
        "response": {
            "@type": "autoscaling.k8s.io/v2.HorizontalPodAutoscaler",
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "quote-api", "namespace": "pricing"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "quote-api"},
                "minReplicas": 2,
                "maxReplicas": 7,
            },
        },
        "serviceName": "k8s.io",
        "status": {},
    },
    "receiveTimestamp": "2026-10-11T13:02:11.731Z",
    "resource": {
        "type": "k8s_cluster",
        "labels": {"cluster_name": "gke-demo", "location": "europe-west1", "project_id": "example-prod"},
    },
    "severity": "NOTICE",
    "timestamp": "2026-10-11T13:02:11.118244Z",
}


def row_of(line: dict, file_cluster: str | None = None):
    return write_row(read_entry(json.loads(json.dumps(line)), file_cluster), DEFAULT_EXCLUDED_NAMESPACES)


def cloud(resource: str, verb: str, **kwargs) -> dict:
    defaults = {"insert_id": "id-1", "at": AT, "cluster": "gke-demo", "namespace": "pricing", "name": "quote-api"}
    defaults.update(principal=PERSON, user_agent=make.KUBECTL_AGENT)
    return make.log_entry(resource=resource, verb=verb, **{**defaults, **kwargs})


def event(resource: str, verb: str, **kwargs) -> dict:
    defaults = {"audit_id": "a-1", "at": AT, "namespace": "pricing", "name": "quote-api", "cluster": "gke-demo"}
    defaults.update(username=PERSON, user_agent=make.KUBECTL_AGENT)
    return make.k8s_event(resource=resource, verb=verb, **{**defaults, **kwargs})


def test_the_contract_example_hpa_patch_by_a_person():
    row = row_of(EXAMPLE_HPA_PATCH)
    assert row == {
        "audit_id": "ex-1",
        "changed_at": datetime(2026, 10, 11, 13, 2, 11, 118244),
        "cluster": "gke-demo",
        "namespace": "pricing",
        "object_kind": "HorizontalPodAutoscaler",
        "object_name": "quote-api",
        "deployment": "quote-api",
        "method": "io.k8s.autoscaling.v2.horizontalpodautoscalers.patch",
        "verb": "patch",
        "subresource": None,
        "principal": "dev@example.com",
        "user_agent": "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
        "tool": "kubectl",
        "is_controller": False,
        "field": "max_replicas",
        "new_value": 7,
        "source_format": CLOUD_LOGGING,
        "admission_failure": None,
    }


def test_the_hpa_controller_scale_update_is_a_controller_write():
    line = cloud(
        "deployments",
        "update",
        subresource="scale",
        principal=make.HPA_CONTROLLER,
        user_agent=make.HPA_CONTROLLER_AGENT,
        request=make.scale_object("pricing", "quote-api", 5),
        response=make.scale_object("pricing", "quote-api", 5),
    )
    row = row_of(line)
    assert (row["object_kind"], row["field"], row["new_value"]) == ("Deployment", "replicas", 5)
    assert (row["tool"], row["is_controller"], row["subresource"]) == ("controller", True, "scale")
    assert row["method"] == "io.k8s.apps.v1.deployments.scale.update"


@pytest.mark.parametrize("fmt", ["cloud", "event"])
def test_kubectl_scale_patches_the_scale_subresource(fmt):
    build = cloud if fmt == "cloud" else event
    row = row_of(build("deployments", "patch", subresource="scale", request={"spec": {"replicas": 9}}))
    assert (row["object_kind"], row["deployment"], row["field"], row["new_value"]) == (
        "Deployment",
        "quote-api",
        "replicas",
        9,
    )


@pytest.mark.parametrize("fmt", ["cloud", "event"])
def test_ci_update_of_a_deployment_reads_the_response_object(fmt):
    body = make.deployment_object("pricing", "quote-api", 4, image="registry.example/quote:2")
    if fmt == "cloud":
        line = cloud("deployments", "update", principal=CI_SA, user_agent=make.CI_AGENT, request=body, response=body)
    else:
        line = event("deployments", "update", username=CI_SA, user_agent=make.CI_AGENT, request=body, response=body)
    row = row_of(line)
    assert (row["tool"], row["is_controller"], row["new_value"]) == ("ci", False, 4)
    assert row["source_format"] == (CLOUD_LOGGING if fmt == "cloud" else K8S_AUDIT)


@pytest.mark.parametrize("fmt", ["cloud", "event"])
def test_a_json_patch_of_max_replicas(fmt):
    operations = [
        {"op": "test", "path": "/spec/maxReplicas", "value": 4},
        {"op": "replace", "path": "/spec/maxReplicas", "value": 6},
    ]
    build = cloud if fmt == "cloud" else event
    row = row_of(build("horizontalpodautoscalers", "patch", request=operations))
    assert (row["field"], row["new_value"]) == ("max_replicas", 6)


def test_a_strategic_merge_patch_event_names_the_hpa_target():
    patch = {"spec": {"maxReplicas": 8, "scaleTargetRef": {"kind": "Deployment", "name": "quote-web"}}}
    row = row_of(event("horizontalpodautoscalers", "patch", name="quote-hpa", request=patch))
    assert (row["object_name"], row["deployment"], row["new_value"]) == ("quote-hpa", "quote-web", 8)


def test_an_hpa_without_a_visible_target_is_read_as_its_own_name():
    row = row_of(cloud("horizontalpodautoscalers", "patch", name="quote-hpa", request={"spec": {"minReplicas": 3}}))
    assert (row["deployment"], row["new_value"]) == ("quote-hpa", None)


def test_the_console_update_of_an_hpa():
    body = make.hpa_object("pricing", "quote-api", 5)
    row = row_of(
        cloud("horizontalpodautoscalers", "update", user_agent=make.CONSOLE_AGENT, request=body, response=body)
    )
    assert (row["tool"], row["new_value"]) == ("console", 5)


def test_create_and_delete():
    body = make.hpa_object("pricing", "quote-api", 3)
    created = row_of(cloud("horizontalpodautoscalers", "create", request=body, response=body))
    deleted = row_of(cloud("horizontalpodautoscalers", "delete", response={"kind": "Status", "status": "Success"}))
    assert (created["verb"], created["new_value"]) == ("create", 3)
    assert (deleted["verb"], deleted["new_value"]) == ("delete", None)


def test_a_create_whose_resource_name_has_no_name_takes_it_from_the_body():
    line = cloud("deployments", "create", request=make.deployment_object("pricing", "quote-api", 2))
    line["protoPayload"]["resourceName"] = "apps/v1/namespaces/pricing/deployments"
    assert row_of(line)["object_name"] == "quote-api"


def test_an_event_takes_its_cluster_from_the_file():
    line = event("deployments", "patch", cluster=None, request={"spec": {"replicas": 3}})
    assert row_of(line, file_cluster="gke-eu")["cluster"] == "gke-eu"
    assert row_of(line) == Quarantine("cluster missing")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (cloud("deployments", "update", subresource="status", request={}), "status subresource: not the spec"),
        (cloud("horizontalpodautoscalers", "get"), "not a write (get)"),
        (
            cloud("deployments", "patch", request={"spec": {"replicas": 3}}, status={"code": 7, "message": "denied"}),
            "refused by the API server",
        ),
        (cloud("deployments", "patch", namespace="kube-system", request={}), "namespace out of scope"),
        (cloud("deployments", "patch", namespace="gke-managed-cim", request={}), "namespace out of scope"),
        (event("deployments", "patch", code=409, request={"spec": {"replicas": 3}}), "refused by the API server"),
    ],
)
def test_what_is_not_a_limit_write_is_skipped_with_a_reason(line, reason):
    assert row_of(line) == Skip(reason)


def test_an_entry_without_an_id_is_quarantined():
    line = cloud("deployments", "patch", request={"spec": {"replicas": 2}})
    del line["insertId"]
    assert row_of(line) == Quarantine("entry id (insertId / auditID) missing")


def test_a_pod_write_is_skipped():
    line = cloud("deployments", "patch", request={})
    line["protoPayload"]["methodName"] = "io.k8s.core.v1.pods.patch"
    assert row_of(line) == Skip("not a Deployment or HPA (pods)")


@pytest.mark.parametrize("fmt", ["cloud", "event"])
def test_a_metadata_level_entry_is_a_change_of_unknown_size(fmt):
    line = (
        cloud("horizontalpodautoscalers", "patch")
        if fmt == "cloud"
        else event("horizontalpodautoscalers", "patch", level="Metadata")
    )
    assert row_of(line) == Quarantine(
        "a change of unknown size by dev@example.com at 2026-10-11 13:02:11.118244Z (no request or response body)"
    )


def test_a_non_integer_max_is_quarantined():
    assert row_of(cloud("horizontalpodautoscalers", "patch", request={"spec": {"maxReplicas": "seven"}})) == Quarantine(
        "spec.maxReplicas in the request is 'seven', not an integer"
    )


def test_missing_namespace_is_quarantined():
    line = cloud("deployments", "patch", request={"spec": {"replicas": 2}})
    line["protoPayload"]["resourceName"] = "apps/v1/deployments/quote-api"
    assert row_of(line) == Quarantine("namespace, object name missing")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ([1, 2], "a JSON list, not an object"),
        ({"hello": "world"}, "neither a Cloud Logging LogEntry (protoPayload) nor an audit.k8s.io Event"),
        ({"protoPayload": {}, "timestamp": "2026-10-11T00:00:00Z"}, "protoPayload.methodName missing"),
        ({**EXAMPLE_HPA_PATCH, "timestamp": "yesterday"}, "timestamp 'yesterday' is not RFC 3339"),
        ({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "patch"}, "objectRef.resource missing"),
    ],
)
def test_unreadable_entries_raise_with_the_reason(line, message):
    with pytest.raises(EntryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_entry(line)


def test_nanosecond_timestamps_are_read():
    line = {**EXAMPLE_HPA_PATCH, "timestamp": "2026-10-11T13:02:11.118244999Z"}
    assert read_entry(line).at == datetime(2026, 10, 11, 13, 2, 11, 118244)


@pytest.mark.parametrize(
    ("principal", "agent", "tool"),
    [
        ("system:serviceaccount:kube-system:deployment-controller", "kube-controller-manager/v1.31", "controller"),
        ("system:kube-controller-manager", "kube-controller-manager/v1.31", "controller"),
        (CI_SA, make.CI_AGENT, "ci"),
        (PERSON, make.CONSOLE_AGENT, "console"),
        (PERSON, make.KUBECTL_AGENT, "kubectl"),
        (PERSON, "curl/8.5.0", "other"),
        (None, None, "other"),
    ],
)
def test_tool_of(principal, agent, tool):
    assert tool_of(principal, agent) == tool

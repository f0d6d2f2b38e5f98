"""The production DAG (REPLICA_LEDGER_ENV=gcp) rendered for one snapshot day, without network or DB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import kubernetes_validate
import pytest
from kubernetes.client import ApiClient

from replica_ledger.settings import load_settings
from tests.replica_ledger.gcp.rendering import (
    BUCKET,
    CLUSTERS,
    GCP_ENV,
    IMAGE,
    unmapped_pods,
)

KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]


def pod_document(operator) -> dict:
    return ApiClient().sanitize_for_serialization(operator.build_pod_request_obj(dry_run=True))


def test_gcp_dag_replaces_the_local_snapshot_and_loads_like_local(gcp_dag):
    ids = set(gcp_dag.task_dict)
    assert "snapshot.take_snapshot" not in ids
    route = gcp_dag.task_dict["snapshot.route_snapshot"]
    assert route.downstream_task_ids == {"snapshot.live_capture", "snapshot.archive_only"}
    # The branch skips the unmapped gate, and the mapped pods with it (Airflow 2.11 skips no mapped task).
    assert gcp_dag.task_dict["snapshot.live_capture"].downstream_task_ids == {"snapshot.capture"}
    # The same python task as locally (pipeline.load_day): no staging, no separate load jobs.
    load = gcp_dag.task_dict["load.load_day"]
    assert load.upstream_task_ids == {"snapshot.capture", "snapshot.archive_only"}
    # A failed pod must not block the other clusters: the missing object becomes a gap.
    assert str(load.trigger_rule.value if hasattr(load.trigger_rule, "value") else load.trigger_rule) == "all_done"
    assert load.downstream_task_ids == {"transform.dbt_build"}
    assert not [task for task in gcp_dag.tasks if type(task).__name__ == "BigQueryInsertJobOperator"]


def test_the_preflight_comes_first_and_takes_no_warehouse_pool(gcp_dag):
    preflight = gcp_dag.task_dict["preflight"]
    assert preflight.upstream_task_ids == set()
    assert preflight.downstream_task_ids == {"snapshot.route_snapshot"}
    assert [task.task_id for task in gcp_dag.roots] == ["preflight"]
    # A missing warehouse pool must not hold back the task that reports it.
    assert preflight.pool == "default_pool" != gcp_dag.task_dict["load.load_day"].pool


def test_the_capture_deadline_is_wired_for_the_airflow_version(gcp_dag):
    """Production default: 6 hours before day D's window [D+1, D+2) closes, i.e. 42 h after D 00:00."""
    from replica_ledger.airflow.compat import IS_AIRFLOW_3

    after_logical_date = timedelta(hours=48 - load_settings().capture_deadline_hours)
    assert after_logical_date == timedelta(hours=42)
    if IS_AIRFLOW_3:
        (alert,) = gcp_dag.deadline if isinstance(gcp_dag.deadline, list) else [gcp_dag.deadline]
        assert type(alert.reference).__name__ == "DagRunLogicalDateDeadline"
        assert alert.interval == after_logical_date
        assert alert.callback.path == "replica_ledger.airflow.deadline.capture_deadline_missed"
        assert alert.callback.kwargs == {"hours": 6}
    else:
        # 2.11 counts a task's SLA from the end of the data interval (D+1 00:00).
        assert gcp_dag.task_dict["load.load_day"].sla == after_logical_date - timedelta(days=1)
        assert gcp_dag.sla_miss_callback.__name__ == "capture_sla_missed"


def test_one_collector_pod_per_configured_cluster(gcp_dag):
    mapped = gcp_dag.task_dict["snapshot.capture"]
    assert type(mapped).__name__ == "MappedOperator"
    pods = unmapped_pods(mapped, gcp_dag)
    assert [pod.arguments[1] for pod in pods] == list(CLUSTERS)
    for pod in pods:
        assert type(pod).__name__ == "KubernetesPodOperator"
        assert pod.namespace == "composer-user-workloads"
        assert pod.config_file == "/home/airflow/composer_kube_config"
        assert pod.in_cluster is False


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_collector_pod_spec_is_valid_kubernetes(gcp_dag, version):
    for operator in unmapped_pods(gcp_dag.task_dict["snapshot.capture"], gcp_dag):
        kubernetes_validate.validate(pod_document(operator), version, strict=True)


def test_collector_pod_spec_for_the_day(gcp_dag):
    for cluster, operator in zip(CLUSTERS, unmapped_pods(gcp_dag.task_dict["snapshot.capture"], gcp_dag), strict=True):
        pod = pod_document(operator)
        assert pod["metadata"]["namespace"] == "composer-user-workloads"
        assert pod["metadata"]["name"].startswith(f"replica-ledger-snapshot-{cluster}-")
        spec = pod["spec"]
        assert spec["serviceAccountName"] == "default"
        assert spec["restartPolicy"] == "Never"
        (container,) = spec["containers"]
        assert container["image"] == IMAGE
        assert container["resources"]["requests"] == {"cpu": "250m", "memory": "384Mi", "ephemeral-storage": "1Gi"}
        assert container["resources"]["limits"] == container["resources"]["requests"]
        assert container["args"] == [
            "--cluster",
            cluster,
            "--output",
            f"gs://{BUCKET}/snapshots",
            "--date",
            "2026-10-11",
            "--kubeconfig",
            "/var/run/replica-ledger/kubeconfig",
            "--context",
            cluster,
        ]
        # The kubeconfig Secret is mounted read-only where --kubeconfig points.
        (mount,) = container["volumeMounts"]
        assert mount["mountPath"] == "/var/run/replica-ledger" and mount["readOnly"] is True
        (volume,) = [volume for volume in spec["volumes"] if volume["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == "replica-ledger-kubeconfig"


def _run_context(day, run_type="scheduled"):
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "logical_date": logical,
        "run_id": f"{run_type}__{logical.isoformat()}",
        "dag_run": SimpleNamespace(run_type=run_type, run_after=logical + timedelta(days=1)),
    }


@pytest.mark.parametrize(
    ("days_ago", "run_type", "expected"),
    [
        (1, "scheduled", "snapshot.live_capture"),  # the normal run, just after midnight
        (0, "manual", "snapshot.archive_only"),  # a run during D itself: D has not ended
        (2, "scheduled", "snapshot.archive_only"),  # beyond the 1-day tolerance
        (30, "manual", "snapshot.archive_only"),
        (1, "backfill", "snapshot.archive_only"),  # a backfill never captures live
    ],
)
def test_rendered_branch_captures_only_the_current_day(gcp_dag, days_ago, run_type, expected, clock):
    route = gcp_dag.task_dict["snapshot.route_snapshot"]
    day = clock.today() - timedelta(days=days_ago)
    assert route.python_callable(**_run_context(day, run_type)) == expected
    assert expected in route.downstream_task_ids


def test_gke_mode_runs_in_cluster_pods_in_each_target_cluster():
    from replica_ledger.airflow.compat import DAG
    from replica_ledger.airflow.dag_gcp import build_capture

    env = {**GCP_ENV, "REPLICA_LEDGER_POD_MODE": "gke", "REPLICA_LEDGER_GKE_LOCATION": "europe-west1"}
    del env["REPLICA_LEDGER_COLLECTOR_KUBECONFIG_SECRET"]
    settings = load_settings({**env, "REPLICA_LEDGER_CLUSTERS": "gke-prod-eu,gke-prod-us"})
    with DAG("gke_mode_under_test", schedule=None, start_date=None) as dag:
        mapped = build_capture(settings)
    for cluster, kwargs in zip(("gke-prod-eu", "gke-prod-us"), mapped._get_specified_expand_input().value, strict=True):
        operator = mapped.unmap(dict(kwargs))
        operator.render_template_fields({"ds": "2026-10-11"}, jinja_env=dag.get_template_env())
        assert type(operator).__name__ == "GKEStartPodOperator"
        assert (operator.cluster_name, operator.location, operator.project_id) == (
            cluster,
            "europe-west1",
            GCP_ENV["REPLICA_LEDGER_GCP_PROJECT"],
        )
        pod = ApiClient().sanitize_for_serialization(operator.build_pod_request_obj(dry_run=True))
        kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)
        assert pod["metadata"]["namespace"] == "replica-ledger"
        assert pod["spec"]["serviceAccountName"] == "replica-ledger-collector"  # include/k8s/rbac.yaml
        assert pod["spec"]["containers"][0]["args"] == [
            "--cluster",
            cluster,
            "--output",
            f"gs://{BUCKET}/snapshots",
            "--date",
            "2026-10-11",
        ]

"""The production DAG (REPLICA_LEDGER_ENV=gcp) rendered for one snapshot day, without network or DB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import kubernetes_validate
import pytest
from kubernetes.client import ApiClient

from replica_ledger.gcp.raw_rows import DirectoryStore, stage_day
from replica_ledger.warehouse import DAY_TABLES, RAW_TABLES
from tests.replica_ledger.gcp.rendering import (
    BUCKET,
    CLUSTERS,
    IMAGE,
    PROJECT,
    SNAPSHOT_DAY,
    render,
    unmapped_pods,
)

KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]


def pod_document(operator) -> dict:
    return ApiClient().sanitize_for_serialization(operator.build_pod_request_obj(dry_run=True))


def test_gcp_dag_replaces_the_local_snapshot_and_load(gcp_dag):
    ids = set(gcp_dag.task_dict)
    assert {"snapshot.take_snapshot", "load.load_day"}.isdisjoint(ids)
    route = gcp_dag.task_dict["snapshot.route_snapshot"]
    assert route.downstream_task_ids == {"snapshot.capture", "snapshot.archive_only"}
    stage = gcp_dag.task_dict["load.stage_raw_rows"]
    assert stage.upstream_task_ids == {"snapshot.capture", "snapshot.archive_only"}
    # A failed pod must not block the other clusters: the missing object becomes a gap.
    assert str(stage.trigger_rule.value if hasattr(stage.trigger_rule, "value") else stage.trigger_rule) == "all_done"
    loads = {f"load.load_{table}" for table in DAY_TABLES}
    assert stage.downstream_task_ids == loads
    for task_id in loads:
        assert gcp_dag.task_dict[task_id].downstream_task_ids == {"transform.dbt_build"}


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


@pytest.mark.parametrize("table", DAY_TABLES)
def test_load_job_replaces_the_day_partition(gcp_dag, table):
    operator = render(gcp_dag.task_dict[f"load.load_{table}"], gcp_dag)
    assert type(operator).__name__ == "BigQueryInsertJobOperator"
    assert operator.project_id == PROJECT
    assert operator.location == "europe-west1"
    load = operator.configuration["load"]
    assert load["destinationTable"] == {"projectId": PROJECT, "datasetId": "ledger_raw", "tableId": f"{table}$20261011"}
    assert load["writeDisposition"] == "WRITE_TRUNCATE"
    assert load["timePartitioning"] == {"type": "DAY", "field": "snapshot_date"}
    assert load["sourceFormat"] == "NEWLINE_DELIMITED_JSON"
    assert load["sourceUris"] == [f"gs://{BUCKET}/raw/{table}/dt=2026-10-11/rows.jsonl"]
    assert [field["name"] for field in load["schema"]["fields"]] == list(RAW_TABLES[table])


def test_staged_objects_are_what_the_load_jobs_read(gcp_dag, gcp_settings, tmp_path):
    store = DirectoryStore(tmp_path, bucket=BUCKET)
    summary = stage_day(store, gcp_settings, SNAPSHOT_DAY)
    for table in DAY_TABLES:
        load = render(gcp_dag.task_dict[f"load.load_{table}"], gcp_dag).configuration["load"]
        assert load["sourceUris"] == [summary["objects"][table]]
        assert store.read(summary["objects"][table].removeprefix(f"gs://{BUCKET}/")) is not None


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
        (1, "scheduled", "snapshot.capture"),  # the normal run, just after midnight
        (0, "manual", "snapshot.capture"),
        (2, "scheduled", "snapshot.archive_only"),  # beyond the 1-day tolerance
        (30, "manual", "snapshot.archive_only"),
        (1, "backfill", "snapshot.archive_only"),  # a backfill never captures live
    ],
)
def test_rendered_branch_captures_only_the_current_day(gcp_dag, days_ago, run_type, expected):
    route = gcp_dag.task_dict["snapshot.route_snapshot"]
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    assert route.python_callable(**_run_context(day, run_type)) == expected
    assert expected in route.downstream_task_ids

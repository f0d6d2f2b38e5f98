"""The policies task group: written after the build, and in production with
REPLICA_LEDGER_POLICY_APPLY=true one apply pod per cluster under its own service account,
only for the current day's regular run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import kubernetes_validate
import pytest
from kubernetes.client import ApiClient

from replica_ledger.settings import load_settings
from tests.replica_ledger.gcp.rendering import BUCKET, CLUSTERS, GCP_ENV, unmapped_pods

APPLY_ENV = {**GCP_ENV, "REPLICA_LEDGER_POLICY_APPLY": "true"}


@pytest.fixture(scope="module")
def apply_dag():
    from replica_ledger.airflow.compat import DAG
    from replica_ledger.airflow.dag_local import build_daily

    with DAG("policies_under_test", schedule=None, start_date=datetime(2026, 10, 1, tzinfo=UTC)) as dag:
        build_daily(load_settings(APPLY_ENV))
    return dag


def test_the_policies_follow_the_build_and_apply_only_after_the_gate(apply_dag):
    write = apply_dag.task_dict["policies.write_policies"]
    assert write.upstream_task_ids == {"transform.dbt_build"}
    assert write.downstream_task_ids == {"policies.apply_due"}
    assert apply_dag.task_dict["policies.apply_due"].downstream_task_ids == {"policies.apply"}


def test_without_apply_there_is_no_gate_and_no_pod():
    from replica_ledger.airflow.compat import DAG
    from replica_ledger.airflow.dag_local import build_daily

    with DAG("policies_no_apply", schedule=None, start_date=datetime(2026, 10, 1, tzinfo=UTC)) as dag:
        build_daily(load_settings(GCP_ENV))
    assert dag.task_dict["policies.write_policies"].downstream_task_ids == set()
    assert "policies.apply" not in dag.task_dict


@pytest.mark.parametrize("version", ["1.30.0", "1.33.0"])
def test_one_apply_pod_per_cluster_under_its_own_service_account(apply_dag, version):
    pods = unmapped_pods(apply_dag.task_dict["policies.apply"], apply_dag)
    assert len(pods) == len(CLUSTERS)
    for cluster, operator in zip(CLUSTERS, pods, strict=True):
        pod = ApiClient().sanitize_for_serialization(operator.build_pod_request_obj(dry_run=True))
        kubernetes_validate.validate(pod, version, strict=True)
        assert pod["metadata"]["name"].startswith(f"replica-ledger-policies-{cluster}")
        assert pod["spec"]["serviceAccountName"] == "replica-ledger-policy-apply"
        (container,) = pod["spec"]["containers"]
        assert container["image"] == load_settings(APPLY_ENV).policy_apply_image
        assert container["command"] == ["bash", "-c"]
        (script,) = container["args"]
        assert f"gcloud storage cp 'gs://{BUCKET}/policies/dt=2026-10-11/*' ." in script
        assert f"-f clusterrules-{cluster}.yaml" in script
        assert f"--kubeconfig /var/run/replica-ledger/kubeconfig --context {cluster}" in script


def _context(day, run_type):
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "logical_date": logical,
        "run_id": f"{run_type}__{logical.isoformat()}",
        "dag_run": SimpleNamespace(run_type=run_type, run_after=logical + timedelta(days=1)),
    }


@pytest.mark.parametrize(
    ("days_ago", "run_type", "due"),
    [(1, "scheduled", True), (1, "backfill", False), (3, "scheduled", False), (0, "manual", False)],
)
def test_only_the_current_days_regular_run_applies(days_ago, run_type, due, clock, monkeypatch):
    from replica_ledger.airflow import tasks

    for name, value in APPLY_ENV.items():
        monkeypatch.setenv(name, value)
    assert tasks.policy_apply_due(_context(clock.today() - timedelta(days=days_ago), run_type)) is due

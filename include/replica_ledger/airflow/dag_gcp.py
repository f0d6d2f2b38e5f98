"""The snapshot task group of the production path (built by `dag_local.build_daily` only when
Settings.gcp is set, i.e. REPLICA_LEDGER_ENV=gcp).

    preflight                (first: everything the run needs from outside, one failure naming
                              all that is missing; no pool, so a missing pool is found too)
    snapshot.route_snapshot  --(current day)-->  snapshot.live_capture -> snapshot.capture[cluster]
                                                 (one collector pod per cluster)
                             --(past day)----->  snapshot.archive_only
    load.load_day            (dag_local's task, as locally: pipeline.load_day streams the day's
                              GCS objects into the BigQuery day partitions; trigger rule LOAD_TRIGGER_RULE)

The Google and Kubernetes provider imports live here, inside the builders, so the local
wiring never pays for them. Nothing here touches a database or the network while the DAG
file is parsed.
"""

from __future__ import annotations

import re
from datetime import timedelta

from replica_ledger.settings import GcpSettings, GcpSettingsError, Settings

DS = "{{ ds }}"
# The load runs after the snapshot branch whatever happened there: a cluster whose pod
# failed (after its retries) has no object, so the load records it as a gap and the other
# clusters still load; a re-run of the day fixes it.
LOAD_TRIGGER_RULE = "all_done"
KUBECONFIG_DIR = "/var/run/replica-ledger"
POD_LABELS = {"app.kubernetes.io/name": "replica-ledger-collector", "app.kubernetes.io/part-of": "replica-ledger"}


def pod_name(cluster: str) -> str:
    """A DNS-1123 pod name for the cluster's collector (the operator appends a random suffix)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", cluster.lower()).strip("-")[:40].strip("-") or "cluster"
    return f"replica-ledger-snapshot-{slug}"


def collector_arguments(gcp: GcpSettings, cluster: str, day: str = DS) -> list[str]:
    """The collector's CLI (CONTRACT.md section 4) for one cluster; `day` is templated by default."""
    arguments = ["--cluster", cluster, "--output", gcp.snapshot_root, "--date", day]
    if gcp.uses_kubeconfig():
        arguments += ["--kubeconfig", f"{KUBECONFIG_DIR}/{gcp.kubeconfig_secret_key}", "--context", cluster]
    return arguments


def container_resources(gcp: GcpSettings):
    from kubernetes.client import models as k8s

    # Requests = limits: a Guaranteed pod, and what Autopilot-style clusters (Composer 3) apply anyway.
    amounts = {"cpu": gcp.pod_cpu, "memory": gcp.pod_memory, "ephemeral-storage": gcp.pod_ephemeral_storage}
    return k8s.V1ResourceRequirements(requests=dict(amounts), limits=dict(amounts))


def _pod_kwargs(gcp: GcpSettings) -> dict:
    from kubernetes.client import models as k8s

    kwargs = {
        "image": gcp.collector_image,
        "namespace": gcp.pod_namespace,
        "service_account_name": gcp.pod_service_account,
        "container_resources": container_resources(gcp),
        "labels": dict(POD_LABELS),
        "get_logs": True,
        "on_finish_action": "delete_pod",
        "startup_timeout_seconds": gcp.pod_startup_timeout_seconds,
        "active_deadline_seconds": gcp.pod_timeout_seconds,
        "execution_timeout": timedelta(seconds=gcp.pod_startup_timeout_seconds + gcp.pod_timeout_seconds),
        "container_security_context": k8s.V1SecurityContext(
            run_as_non_root=True,
            allow_privilege_escalation=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
        ),
        "do_xcom_push": False,
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
    }
    if gcp.uses_kubeconfig():
        from airflow.providers.cncf.kubernetes.secret import Secret

        kwargs["secrets"] = [Secret("volume", KUBECONFIG_DIR, gcp.kubeconfig_secret)]
    return kwargs


def _gcp_part(settings: Settings) -> GcpSettings:
    if settings.gcp is None:
        raise GcpSettingsError("the production task builders need REPLICA_LEDGER_ENV=gcp settings")
    return settings.gcp


def build_capture(settings: Settings):
    """One collector pod per configured cluster, through dynamic task mapping."""
    gcp = _gcp_part(settings)
    if gcp.pod_mode == "gke":
        from airflow.providers.google.cloud.operators.kubernetes_engine import GKEStartPodOperator

        return GKEStartPodOperator.partial(
            task_id="capture",
            project_id=gcp.gke_project,
            location=gcp.gke_location,
            gcp_conn_id=gcp.gcp_conn_id,
            **_pod_kwargs(gcp),
        ).expand_kwargs(
            [
                {"cluster_name": cluster, "name": pod_name(cluster), "arguments": collector_arguments(gcp, cluster)}
                for cluster in settings.clusters
            ]
        )
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    return KubernetesPodOperator.partial(
        task_id="capture",
        config_file=gcp.kube_config_file,
        in_cluster=False,
        kubernetes_conn_id=None,
        **_pod_kwargs(gcp),
    ).expand_kwargs(
        [{"name": pod_name(cluster), "arguments": collector_arguments(gcp, cluster)} for cluster in settings.clusters]
    )


def build_gcp_snapshot(settings: Settings) -> list:
    """The snapshot task group of the production path; returns its last tasks (the load follows them)."""
    from airflow.providers.standard.operators.empty import EmptyOperator

    from replica_ledger.airflow.compat import TaskGroup, task

    tolerance = settings.live_snapshot_tolerance_days

    @task(task_id="preflight", pool="default_pool")
    def preflight(**context) -> dict:
        """Slack connections, pool, BigQuery datasets and source tables, archive bucket (airflow/preflight.py)."""
        from replica_ledger.airflow import tasks

        return tasks.preflight(context)

    checked = preflight()

    with TaskGroup("snapshot", tooltip="Collector pods for the current day; a past day only reads the archive"):

        @task.branch(task_id="route_snapshot")
        def route_snapshot(**context) -> str:
            """Collector pods only for the current day's regular run (contract section 3, "Backfills");
            any other run loads the day's archived objects and records a gap where one is missing."""
            import logging

            from replica_ledger.airflow.context import RunInfo

            run = RunInfo.from_context(context)
            capture = run.is_current_day(tolerance)
            source = "capture" if capture else "archive only"
            logging.getLogger(__name__).info("snapshot day %s: %s", run.snapshot_day, source)
            return "snapshot.live_capture" if capture else "snapshot.archive_only"

        # The branch skips an unmapped gate, never the mapped pods themselves: Airflow 2.11's
        # branch skips only the task instance of its own map index (-1), so the pods of a
        # past day were started anyway; behind the gate they are skipped with it.
        live_capture = EmptyOperator(task_id="live_capture")
        capture = build_capture(settings)
        archive_only = EmptyOperator(task_id="archive_only")
        live_capture >> capture
        checked >> route_snapshot() >> [live_capture, archive_only]
    return [capture, archive_only]


# --------------------------------------------------------------------------- policy apply

POLICY_POD_LABELS = {
    "app.kubernetes.io/name": "replica-ledger-policy-apply",
    "app.kubernetes.io/part-of": "replica-ledger",
}


def policy_pod_name(cluster: str) -> str:
    return pod_name(cluster).replace("replica-ledger-snapshot-", "replica-ledger-policies-", 1)


def _policy_pod_kwargs(settings: Settings) -> dict:
    """The collector pod's shape (resources, security, timeouts, kubeconfig Secret in composer
    mode), with the apply image and its own service account (deploy/policy-apply-rbac.yaml)."""
    return {
        **_pod_kwargs(_gcp_part(settings)),
        "image": settings.policy_apply_image,
        "service_account_name": settings.policy_apply_service_account,
        "labels": dict(POLICY_POD_LABELS),
        "cmds": ["bash", "-c"],
        "retries": 1,
    }


def build_policy_apply(settings: Settings):
    """One pod per cluster applying the run's day folder (REPLICA_LEDGER_POLICY_APPLY=true)."""
    from replica_ledger.policies.apply import apply_script
    from replica_ledger.policies.folder import day_folder_template

    gcp = _gcp_part(settings)
    folder_url = f"{settings.policy_dir}/{day_folder_template(DS)}"
    kubeconfig = f"{KUBECONFIG_DIR}/{gcp.kubeconfig_secret_key}" if gcp.uses_kubeconfig() else None
    per_cluster = [
        {"name": policy_pod_name(cluster), "arguments": [apply_script(folder_url, cluster, kubeconfig)]}
        for cluster in settings.clusters
    ]
    if gcp.pod_mode == "gke":
        from airflow.providers.google.cloud.operators.kubernetes_engine import GKEStartPodOperator

        return GKEStartPodOperator.partial(
            task_id="apply",
            project_id=gcp.gke_project,
            location=gcp.gke_location,
            gcp_conn_id=gcp.gcp_conn_id,
            **_policy_pod_kwargs(settings),
        ).expand_kwargs(
            [
                {**kwargs, "cluster_name": cluster}
                for kwargs, cluster in zip(per_cluster, settings.clusters, strict=True)
            ]
        )
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    return KubernetesPodOperator.partial(
        task_id="apply",
        config_file=gcp.kube_config_file,
        in_cluster=False,
        kubernetes_conn_id=None,
        **_policy_pod_kwargs(settings),
    ).expand_kwargs(per_cluster)

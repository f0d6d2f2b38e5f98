"""Production settings, from environment variables only (cheap to read at DAG parse time).

Composer sets them per environment (``gcloud composer environments update
--update-env-variables``); docs/deploy-composer.md lists them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from replica_ledger.settings import Settings

COMPOSER_NAMESPACE = "composer-user-workloads"
COMPOSER_KUBE_CONFIG = "/home/airflow/composer_kube_config"
POD_MODES = ("composer", "gke")
REQUIRED = ("REPLICA_LEDGER_GCP_PROJECT", "REPLICA_LEDGER_GCS_BUCKET", "REPLICA_LEDGER_COLLECTOR_IMAGE")


class GcpSettingsError(ValueError):
    """A required production setting is missing or malformed."""


@dataclass(frozen=True)
class GcpSettings:
    project: str
    bucket: str
    collector_image: str
    clusters: tuple[str, ...] = ()
    live_snapshot_tolerance_days: int = 1
    snapshot_prefix: str = "snapshots"
    raw_prefix: str = "raw"
    raw_dataset: str = "replica_ledger_raw"
    dataset: str = "replica_ledger"
    location: str = "EU"
    gcp_conn_id: str = "google_cloud_default"
    ped_project: str = ""
    ped_dataset: str = ""
    ped_table_name: str = "ped_limit_changes"
    # Where the collector pods run: "composer" = KubernetesPodOperator in the environment's
    # own cluster (Composer 3: namespace composer-user-workloads), reaching the clusters
    # through a kubeconfig Secret; "gke" = GKEStartPodOperator in each target cluster,
    # in-cluster with the ServiceAccount of include/k8s/rbac.yaml.
    pod_mode: str = "composer"
    pod_namespace: str = COMPOSER_NAMESPACE
    kube_config_file: str = COMPOSER_KUBE_CONFIG
    pod_service_account: str = "default"
    kubeconfig_secret: str = ""
    kubeconfig_secret_key: str = "kubeconfig"  # noqa: S105 - the key (file name) in the Secret, not a secret
    gke_location: str = ""
    gke_project: str = ""
    pod_cpu: str = "500m"
    pod_memory: str = "512Mi"
    pod_ephemeral_storage: str = "1Gi"
    pod_startup_timeout_seconds: int = 600
    pod_timeout_seconds: int = 1800

    # ------------------------------------------------------------------ derived names

    @property
    def snapshot_root(self) -> str:
        """The archive root the collector writes to (contract §1.1)."""
        return f"gs://{self.bucket}/{self.snapshot_prefix}"

    @property
    def ped_table(self) -> str:
        """The PED change log as project.dataset.table."""
        return f"{self.ped_project or self.project}.{self.ped_dataset or self.raw_dataset}.{self.ped_table_name}"

    def snapshot_object(self, day_iso: str, cluster: str, suffix: str = ".json.gz") -> str:
        return f"{self.snapshot_prefix}/dt={day_iso}/{cluster}{suffix}"

    def raw_object(self, table: str, day_iso: str) -> str:
        return f"{self.raw_prefix}/{table}/dt={day_iso}/rows.jsonl"

    def raw_table_id(self, table: str) -> str:
        return f"{self.project}.{self.raw_dataset}.{table}"

    def uses_kubeconfig(self) -> bool:
        return self.pod_mode == "composer" and bool(self.kubeconfig_secret)


def _get(env: Mapping[str, str], name: str, default: str = "") -> str:
    return (env.get(name) or "").strip() or default


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _get(env, name)
    try:
        return int(raw) if raw else default
    except ValueError:
        raise GcpSettingsError(f"{name}={raw!r} is not an integer") from None


def load_gcp_settings(base: Settings | None = None, environ: Mapping[str, str] | None = None) -> GcpSettings:
    """GcpSettings from the environment; raises GcpSettingsError naming what is missing."""
    env = os.environ if environ is None else environ
    missing = [name for name in REQUIRED if not _get(env, name)]
    if missing:
        raise GcpSettingsError(f"REPLICA_LEDGER_ENV=gcp needs {', '.join(missing)} (see docs/deploy-composer.md)")
    if base is None:
        from replica_ledger.settings import load_settings

        base = load_settings()
    mode = _get(env, "REPLICA_LEDGER_POD_MODE", "composer")
    if mode not in POD_MODES:
        raise GcpSettingsError(f"REPLICA_LEDGER_POD_MODE={mode!r}: expected one of {', '.join(POD_MODES)}")
    gke = mode == "gke"
    project = _get(env, "REPLICA_LEDGER_GCP_PROJECT")
    settings = GcpSettings(
        project=project,
        bucket=_get(env, "REPLICA_LEDGER_GCS_BUCKET").removeprefix("gs://").strip("/"),
        collector_image=_get(env, "REPLICA_LEDGER_COLLECTOR_IMAGE"),
        clusters=base.clusters,
        live_snapshot_tolerance_days=base.live_snapshot_tolerance_days,
        snapshot_prefix=_get(env, "REPLICA_LEDGER_GCS_SNAPSHOT_PREFIX", "snapshots").strip("/"),
        raw_prefix=_get(env, "REPLICA_LEDGER_GCS_RAW_PREFIX", "raw").strip("/"),
        raw_dataset=_get(env, "REPLICA_LEDGER_RAW_SCHEMA", "replica_ledger_raw"),
        dataset=_get(env, "REPLICA_LEDGER_BQ_DATASET", "replica_ledger"),
        location=_get(env, "REPLICA_LEDGER_BQ_LOCATION", "EU"),
        gcp_conn_id=_get(env, "REPLICA_LEDGER_GCP_CONN_ID", "google_cloud_default"),
        ped_project=_get(env, "REPLICA_LEDGER_PED_PROJECT"),
        ped_dataset=_get(env, "REPLICA_LEDGER_PED_DATASET"),
        ped_table_name=_get(env, "REPLICA_LEDGER_PED_TABLE_NAME", "ped_limit_changes"),
        pod_mode=mode,
        pod_namespace=_get(env, "REPLICA_LEDGER_POD_NAMESPACE", "replica-ledger" if gke else COMPOSER_NAMESPACE),
        kube_config_file=_get(env, "REPLICA_LEDGER_KUBE_CONFIG_FILE", COMPOSER_KUBE_CONFIG),
        pod_service_account=_get(
            env, "REPLICA_LEDGER_POD_SERVICE_ACCOUNT", "replica-ledger-collector" if gke else "default"
        ),
        kubeconfig_secret=_get(env, "REPLICA_LEDGER_COLLECTOR_KUBECONFIG_SECRET"),
        kubeconfig_secret_key=_get(env, "REPLICA_LEDGER_COLLECTOR_KUBECONFIG_KEY", "kubeconfig"),
        gke_location=_get(env, "REPLICA_LEDGER_GKE_LOCATION"),
        gke_project=_get(env, "REPLICA_LEDGER_GKE_PROJECT", project),
        pod_cpu=_get(env, "REPLICA_LEDGER_POD_CPU", "500m"),
        pod_memory=_get(env, "REPLICA_LEDGER_POD_MEMORY", "512Mi"),
        pod_ephemeral_storage=_get(env, "REPLICA_LEDGER_POD_EPHEMERAL_STORAGE", "1Gi"),
        pod_startup_timeout_seconds=_int(env, "REPLICA_LEDGER_POD_STARTUP_TIMEOUT_SECONDS", 600),
        pod_timeout_seconds=_int(env, "REPLICA_LEDGER_POD_TIMEOUT_SECONDS", 1800),
    )
    if not settings.clusters:
        raise GcpSettingsError("REPLICA_LEDGER_CLUSTERS is empty: name the clusters to snapshot (comma-separated)")
    if not gke and not settings.kubeconfig_secret:
        raise GcpSettingsError(
            "REPLICA_LEDGER_POD_MODE=composer needs REPLICA_LEDGER_COLLECTOR_KUBECONFIG_SECRET: the pods run in "
            "the environment's cluster and reach the snapshotted clusters through that kubeconfig "
            "(or use REPLICA_LEDGER_POD_MODE=gke to run them in-cluster in each target cluster)"
        )
    if gke and not settings.gke_location:
        raise GcpSettingsError("REPLICA_LEDGER_POD_MODE=gke needs REPLICA_LEDGER_GKE_LOCATION (region or zone)")
    return settings

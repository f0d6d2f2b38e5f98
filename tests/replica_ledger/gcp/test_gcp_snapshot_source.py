"""Past dates in production: the decision, and archive-if-it-exists-else-gap staging (no network).

Staging runs on a DirectoryStore: the bucket layout in a folder, read and written by the
same code that reads gs:// through GCSHook in Composer. The demo archive provides real
snapshot files (plain, gzip, with and without a meta file).
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from replica_ledger import pipeline
from replica_ledger.gcp.decide import ARCHIVE_ONLY, CAPTURE, snapshot_source
from replica_ledger.gcp.raw_rows import DirectoryStore, stage_day
from replica_ledger.gcp.settings import GcpSettingsError, load_gcp_settings
from replica_ledger.settings import Settings
from replica_ledger.warehouse import DAY_TABLES, RAW_TABLES
from tests.replica_ledger.gcp.rendering import BUCKET, GCP_ENV, REPO_ROOT

DEMO_ARCHIVE = REPO_ROOT / "demo" / "archive"
DEMO_DAY = date(2026, 10, 3)
TODAY = date(2026, 10, 12)


@pytest.mark.parametrize(
    ("day", "tolerance", "backfill", "expected"),
    [
        (date(2026, 10, 11), 1, False, CAPTURE),  # run for D on D+1
        (date(2026, 10, 12), 1, False, CAPTURE),  # manual run for today
        (date(2026, 10, 10), 1, False, ARCHIVE_ONLY),  # two days late: past day
        (date(2026, 10, 10), 3, False, CAPTURE),  # ... unless the tolerance allows it
        (date(2026, 10, 13), 1, False, ARCHIVE_ONLY),  # a future day is never captured
        (date(2026, 10, 11), 1, True, ARCHIVE_ONLY),  # a backfill never captures
        (date(2025, 1, 1), 30, False, ARCHIVE_ONLY),
    ],
)
def test_snapshot_source(day, tolerance, backfill, expected):
    assert snapshot_source(day, tolerance, backfill=backfill, today=TODAY) == expected


def gcp(clusters=("gke-demo-eu", "gke-demo-us")):
    env = {**GCP_ENV, "REPLICA_LEDGER_RAW_SCHEMA": "ledger_raw"}
    return load_gcp_settings(Settings(clusters=tuple(clusters)), env)


@pytest.fixture
def bucket(tmp_path: Path) -> DirectoryStore:
    """A bucket holding the demo archive under snapshots/ (as the collector writes it)."""
    shutil.copytree(DEMO_ARCHIVE / f"dt={DEMO_DAY}", tmp_path / "snapshots" / f"dt={DEMO_DAY}")
    return DirectoryStore(tmp_path, bucket=BUCKET)


def ndjson(store: DirectoryStore, table: str, day: date) -> list[dict]:
    data = store.read(f"raw/{table}/dt={day}/rows.jsonl")
    return [json.loads(line) for line in data.decode().splitlines()]


def test_archived_day_loads_with_the_local_parser(bucket):
    summary = stage_day(bucket, gcp(), DEMO_DAY)
    assert summary["clusters"] == {"gke-demo-eu": "loaded", "gke-demo-us": "loaded"}
    assert summary["gaps"] == []
    local = pipeline.collect_day_rows(
        Settings(archive_dir=DEMO_ARCHIVE, clusters=("gke-demo-eu", "gke-demo-us")), DEMO_DAY
    )
    for table in ("k8s_deployments", "k8s_hpas", "k8s_rejects"):
        staged = ndjson(bucket, table, DEMO_DAY)
        assert len(staged) == len(local[table]) == summary["rows"][table]
        for row in staged:
            assert list(row) == list(RAW_TABLES[table])
            assert row["snapshot_date"] == DEMO_DAY.isoformat()
    deployments = {
        (row["cluster"], row["namespace"], row["deployment"]): row
        for row in ndjson(bucket, "k8s_deployments", DEMO_DAY)
    }
    for row in local["k8s_deployments"]:
        staged = deployments[row["cluster"], row["namespace"], row["deployment"]]
        assert staged["spec_replicas"] == row["spec_replicas"]
        assert staged["captured_at"] == row["captured_at"].isoformat(sep=" ", timespec="microseconds")
    manifest = {row["cluster"]: row for row in ndjson(bucket, "snapshot_manifest", DEMO_DAY)}
    assert manifest["gke-demo-us"]["source_uri"] == f"gs://{BUCKET}/snapshots/dt={DEMO_DAY}/gke-demo-us.json.gz"
    local_manifest = {row["cluster"]: row for row in local["snapshot_manifest"]}
    for cluster, row in manifest.items():
        assert row["source_sha256"] == local_manifest[cluster]["source_sha256"]
        assert row["deployment_count"] == local_manifest[cluster]["deployment_count"]


def test_missing_day_records_gaps_and_empties_the_other_partitions(tmp_path):
    store = DirectoryStore(tmp_path, bucket=BUCKET)
    summary = stage_day(store, gcp(), date(2026, 9, 30))
    assert summary["gaps"] == ["gke-demo-eu", "gke-demo-us"]
    manifest = ndjson(store, "snapshot_manifest", date(2026, 9, 30))
    assert [(row["cluster"], row["status"], row["deployment_count"]) for row in manifest] == [
        ("gke-demo-eu", "missing", 0),
        ("gke-demo-us", "missing", 0),
    ]
    for table in ("k8s_deployments", "k8s_hpas", "k8s_rejects"):
        # written, and empty: the WRITE_TRUNCATE load then empties the day's partition
        assert store.read(f"raw/{table}/dt=2026-09-30/rows.jsonl") == b""


def test_one_missing_cluster_is_a_gap_and_the_others_load(bucket):
    summary = stage_day(bucket, gcp(("gke-demo-eu", "gke-demo-us", "gke-demo-ap")), DEMO_DAY)
    assert summary["clusters"] == {"gke-demo-ap": "missing", "gke-demo-eu": "loaded", "gke-demo-us": "loaded"}
    assert summary["gaps"] == ["gke-demo-ap"]


def test_hand_dropped_snapshot_of_an_unconfigured_cluster_is_loaded(bucket):
    summary = stage_day(bucket, gcp(("gke-demo-eu",)), DEMO_DAY)
    assert summary["clusters"] == {"gke-demo-eu": "loaded", "gke-demo-us": "loaded"}


def test_unreadable_object_is_recorded_not_fatal(bucket):
    folder = Path(bucket.root) / "snapshots" / f"dt={DEMO_DAY}"
    (folder / "gke-demo-us.json.gz").write_bytes(gzip.compress(b'{"kind": "List"'))
    summary = stage_day(bucket, gcp(), DEMO_DAY)
    assert summary["clusters"]["gke-demo-us"] == "unreadable"
    (row,) = [row for row in ndjson(bucket, "snapshot_manifest", DEMO_DAY) if row["cluster"] == "gke-demo-us"]
    assert "malformed JSON" in row["error"]
    assert {row["cluster"] for row in ndjson(bucket, "k8s_deployments", DEMO_DAY)} == {"gke-demo-eu"}


def test_rerun_writes_the_same_objects(bucket):
    first = stage_day(bucket, gcp(), DEMO_DAY)
    before = {table: bucket.read(f"raw/{table}/dt={DEMO_DAY}/rows.jsonl") for table in DAY_TABLES}
    assert stage_day(bucket, gcp(), DEMO_DAY) == first
    assert {table: bucket.read(f"raw/{table}/dt={DEMO_DAY}/rows.jsonl") for table in DAY_TABLES} == before


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("REPLICA_LEDGER_GCS_BUCKET", "REPLICA_LEDGER_GCS_BUCKET"),
        ("REPLICA_LEDGER_COLLECTOR_IMAGE", "REPLICA_LEDGER_COLLECTOR_IMAGE"),
        ("REPLICA_LEDGER_COLLECTOR_KUBECONFIG_SECRET", "KUBECONFIG_SECRET"),
    ],
)
def test_settings_name_what_is_missing(missing, message):
    env = {name: value for name, value in GCP_ENV.items() if name != missing}
    with pytest.raises(GcpSettingsError, match=message):
        load_gcp_settings(Settings(clusters=("c1",)), env)


def test_settings_need_clusters():
    with pytest.raises(GcpSettingsError, match="REPLICA_LEDGER_CLUSTERS"):
        load_gcp_settings(Settings(clusters=()), GCP_ENV)


def test_gke_mode_runs_in_cluster_pods_in_each_target_cluster():
    import kubernetes_validate
    from kubernetes.client import ApiClient

    from replica_ledger.gcp.dag import build_capture

    try:
        from airflow.sdk import DAG
    except ImportError:
        from airflow import DAG

    env = {**GCP_ENV, "REPLICA_LEDGER_POD_MODE": "gke", "REPLICA_LEDGER_GKE_LOCATION": "europe-west1"}
    del env["REPLICA_LEDGER_COLLECTOR_KUBECONFIG_SECRET"]
    settings = load_gcp_settings(Settings(clusters=("gke-prod-eu", "gke-prod-us")), env)
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

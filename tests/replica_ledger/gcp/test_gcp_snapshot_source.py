"""Past dates in production: archive-if-it-exists-else-gap loading from GCS.

Which run captures live is RunInfo.is_current_day (tests/replica_ledger/airflow/test_context.py).

The archive is a real bucket on fake-gcs-server (`empty_gcs`, tests/conftest.py), read by
`GcsStore` through google-cloud-storage, exactly as on Composer. The rows go through the
one loader (`raw.day.write_day_rows`) into the NDJSON files the BigQuery sink uploads. The
demo archive provides real snapshot files (plain, gzip, with and without a meta file).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from replica_ledger import pipeline
from replica_ledger.raw.day import write_day_rows
from replica_ledger.raw.ndjson import NdjsonDayFiles
from replica_ledger.raw.schema import DAY_TABLES, RAW_TABLES
from replica_ledger.raw.stores import GcsStore, LocalStore
from replica_ledger.settings import GcpSettingsError, Settings, load_settings
from tests.replica_ledger.gcp.rendering import BUCKET, GCP_ENV, REPO_ROOT
from tooling.raw_rows import day_rows

DEMO_ARCHIVE = REPO_ROOT / "demo" / "archive"
DEMO_DAY = date(2026, 10, 3)
DEMO_CLUSTERS = ("gke-demo-eu", "gke-demo-us")
TODAY = date(2026, 10, 12)


# --------------------------------------------------------------------------- the bucket


def upload(bucket, name: str, data: bytes) -> None:
    content_type = "application/gzip" if name.endswith(".gz") else "application/json"
    bucket.blob(f"snapshots/{name}").upload_from_string(data, content_type=content_type)


@pytest.fixture
def bucket(empty_gcs):
    """A bucket holding the demo archive's first days under snapshots/ (as the collector writes it)."""
    bucket = empty_gcs.create_bucket(BUCKET)
    for folder in sorted(DEMO_ARCHIVE.glob("dt=*"))[:3]:
        for path in folder.iterdir():
            upload(bucket, f"{folder.name}/{path.name}", path.read_bytes())
    return bucket


@pytest.fixture
def store(bucket, empty_gcs) -> GcsStore:
    return GcsStore(BUCKET, "snapshots")  # the product's own client: STORAGE_EMULATOR_HOST


def ndjson_day(store, day: date, clusters=DEMO_CLUSTERS) -> tuple[dict, dict[str, bytes]]:
    """Load `day` into the BigQuery sink's NDJSON files; (summary, file bytes per table)."""
    with NdjsonDayFiles() as files:
        load = write_day_rows(store, day, clusters, files)
        return load, {table: files.path(table).read_bytes() for table in DAY_TABLES}


def lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines()]


def test_the_bucket_and_the_local_folder_give_the_same_rows(store):
    from_gcs = day_rows(store, DEMO_DAY, DEMO_CLUSTERS)
    from_folder = day_rows(LocalStore(DEMO_ARCHIVE), DEMO_DAY, DEMO_CLUSTERS)
    assert len(from_gcs["k8s_deployments"]) > 0 and len(from_gcs["k8s_hpas"]) > 0
    for table in DAY_TABLES:
        assert len(from_gcs[table]) == len(from_folder[table])
        for gcs_row, local_row in zip(from_gcs[table], from_folder[table], strict=True):
            if table == "snapshot_manifest":
                assert gcs_row["source_uri"] == f"gs://{BUCKET}/snapshots/{local_row['source_uri']}"
                gcs_row, local_row = {**gcs_row, "source_uri": None}, {**local_row, "source_uri": None}
            assert gcs_row == local_row


def test_archived_day_is_written_as_the_load_jobs_read_it(store):
    load, files = ndjson_day(store, DEMO_DAY)
    assert load.statuses() == {"gke-demo-eu": "loaded", "gke-demo-us": "loaded"}
    for table in DAY_TABLES:
        rows = lines(files[table])
        assert len(rows) == load.rows[table]
        for row in rows:
            assert list(row) == list(RAW_TABLES[table])
            assert row["snapshot_date"] == DEMO_DAY.isoformat()
    manifest = {row["cluster"]: row for row in lines(files["snapshot_manifest"])}
    assert manifest["gke-demo-us"]["source_uri"] == f"gs://{BUCKET}/snapshots/dt={DEMO_DAY}/gke-demo-us.json.gz"
    eu_meta = json.loads((DEMO_ARCHIVE / f"dt={DEMO_DAY}" / "gke-demo-eu.meta.json").read_text())
    assert manifest["gke-demo-eu"]["captured_at"].replace(" ", "T").startswith(eu_meta["captured_at"].rstrip("Z"))
    us_file = (DEMO_ARCHIVE / f"dt={DEMO_DAY}" / "gke-demo-us.json.gz").read_bytes()
    assert manifest["gke-demo-us"]["source_sha256"] == hashlib.sha256(gzip.decompress(us_file)).hexdigest()


def test_missing_day_records_gaps_and_empties_the_other_partitions(store):
    _, files = ndjson_day(store, date(2026, 9, 30))
    assert [(row["cluster"], row["status"], row["deployment_count"]) for row in lines(files["snapshot_manifest"])] == [
        ("gke-demo-eu", "missing", 0),
        ("gke-demo-us", "missing", 0),
    ]
    for table in ("k8s_deployments", "k8s_hpas", "k8s_rejects"):
        # written, and empty: the WRITE_TRUNCATE load then empties the day's partition
        assert files[table] == b""


def test_one_missing_cluster_is_a_gap_and_the_others_load(store):
    load, _ = ndjson_day(store, DEMO_DAY, (*DEMO_CLUSTERS, "gke-demo-ap"))
    assert load.statuses() == {"gke-demo-ap": "missing", "gke-demo-eu": "loaded", "gke-demo-us": "loaded"}


def test_hand_dropped_snapshot_of_an_unconfigured_cluster_is_loaded_and_then_expected(store, bucket):
    upload(bucket, f"dt={DEMO_DAY}/gke-hand.json", b'{"kind": "List", "items": []}')
    assert ndjson_day(store, DEMO_DAY, ("gke-demo-eu",))[0].statuses() == {
        "gke-demo-eu": "loaded",
        "gke-demo-us": "loaded",
        "gke-hand": "loaded",
    }
    # Seen on an earlier day: a gap from then on, on GCS as locally.
    later = ndjson_day(store, DEMO_DAY + timedelta(days=1), ("gke-demo-eu",))[0]
    assert later.statuses() == {"gke-demo-eu": "missing", "gke-demo-us": "missing", "gke-hand": "missing"}
    # ... and never before it was seen.
    assert "gke-hand" not in ndjson_day(store, DEMO_DAY - timedelta(days=1))[0].statuses()


def test_plain_json_and_meta_win_over_the_gzip_twin_on_gcs(store, bucket):
    upload(bucket, f"dt={DEMO_DAY}/gke-demo-us.json", b'{"kind": "List", "items": []}')
    upload(bucket, f"dt={DEMO_DAY}/gke-demo-us.meta.json", b'{"captured_at": "2026-10-04T00:09:00Z"}')
    load, files = ndjson_day(store, DEMO_DAY)
    (row,) = [row for row in load.manifest if row["cluster"] == "gke-demo-us"]
    assert row["source_uri"] == f"gs://{BUCKET}/snapshots/dt={DEMO_DAY}/gke-demo-us.json"
    assert row["deployment_count"] == 0 and row["captured_at"].isoformat() == "2026-10-04T00:09:00"
    assert {row["cluster"] for row in lines(files["k8s_deployments"])} == {"gke-demo-eu"}


def test_unreadable_object_is_recorded_not_fatal(store, bucket):
    upload(bucket, f"dt={DEMO_DAY}/gke-demo-us.json.gz", gzip.compress(b'{"kind": "List"'))
    load, files = ndjson_day(store, DEMO_DAY)
    assert load.statuses()["gke-demo-us"] == "unreadable"
    (row,) = [row for row in lines(files["snapshot_manifest"]) if row["cluster"] == "gke-demo-us"]
    assert "malformed JSON" in row["error"]
    assert {row["cluster"] for row in lines(files["k8s_deployments"])} == {"gke-demo-eu"}


def test_a_day_folder_copied_in_or_rewritten_gets_new_versions(store, bucket):
    """The load record's input on GCS (raw.record): one listing per day folder, a new
    generation when an object is written again, even with the same bytes."""
    folder = f"dt={DEMO_DAY}/"
    local = LocalStore(DEMO_ARCHIVE).versions(folder)
    first = store.versions(folder)
    assert sorted(first) == sorted(local)
    name = f"{folder}gke-demo-eu.meta.json"
    upload(bucket, name, (DEMO_ARCHIVE / name).read_bytes())
    again = store.versions(folder)
    assert again[name] != first[name] and {**again, name: None} == {**first, name: None}
    assert store.versions(f"dt={date(2026, 9, 30)}/") == {}


def test_rerun_writes_the_same_rows(store):
    first = ndjson_day(store, DEMO_DAY)
    assert ndjson_day(store, DEMO_DAY) == first


def test_on_gcp_the_load_reads_the_environments_bucket(monkeypatch):
    for name, value in GCP_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REPLICA_LEDGER_GCS_SNAPSHOT_PREFIX", "/archive/snapshots/")
    store = pipeline.archive_store(load_settings())
    assert isinstance(store, GcsStore)
    assert store.url("dt=2026-10-11/c1.json.gz") == f"gs://{BUCKET}/archive/snapshots/dt=2026-10-11/c1.json.gz"
    assert isinstance(pipeline.archive_store(Settings(archive_dir=Path("/a"))), LocalStore)


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
        load_settings(env)


def test_settings_need_clusters():
    with pytest.raises(GcpSettingsError, match="REPLICA_LEDGER_CLUSTERS"):
        load_settings({**GCP_ENV, "REPLICA_LEDGER_CLUSTERS": ""})

"""The policy step: limits read through the warehouse seam (a real DuckDB file holding the two
models it reads), the day's folder written locally or to a bucket (fake-gcs-server)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime

import duckdb
import pytest
import yaml

from replica_ledger.policies import folder
from replica_ledger.policies.generate import day_files, write_policies
from replica_ledger.settings import Settings

VERSIONS = [  # namespace, deployment, max, valid_from, valid_to
    ("payments", "payments-api", 3, datetime(2026, 9, 15, 10), datetime(2026, 10, 11, 9, 30)),
    ("payments", "payments-api", 6, datetime(2026, 10, 11, 9, 30), None),
    ("orders", "orders-api", 4, datetime(2026, 9, 1, 8), None),
    ("legacy", "legacy-api", 2, datetime(2026, 8, 1, 8), datetime(2026, 10, 15, 12)),  # a PED delete
]


@pytest.fixture
def settings(tmp_path) -> Settings:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table dim_replica_limits (namespace varchar, deployment varchar, max_replicas bigint,"
            " valid_from timestamp, valid_to timestamp, is_current boolean)"
        )
        con.executemany(
            "insert into dim_replica_limits values (?, ?, ?, ?, ?, ?)", [(*row, row[4] is None) for row in VERSIONS]
        )
        con.execute("create table int_snapshot_expectations as select 'gke-eu' as cluster")
    return replace(Settings(), duckdb_path=path, policy_dir=str(tmp_path / "policies"), clusters=("gke-us",))


def config_maps(files: folder.DayFiles) -> dict[str, dict]:
    return {doc["metadata"]["namespace"]: doc["data"] for doc in yaml.safe_load_all(files.files[folder.CONFIG_MAPS])}


def test_a_days_folder_holds_the_limits_in_force_at_its_end(settings):
    assert config_maps(day_files(settings, date(2026, 10, 10)))["payments"] == {"payments-api": "3"}
    assert config_maps(day_files(settings, date(2026, 10, 11)))["payments"] == {"payments-api": "6"}
    # legacy's delete on day 15: its namespace keeps a ConfigMap without the key.
    assert config_maps(day_files(settings, date(2026, 10, 14)))["legacy"] == {"legacy-api": "2"}
    assert config_maps(day_files(settings, date(2026, 10, 15)))["legacy"] == {}


def test_make_policies_takes_the_current_versions_and_every_expected_cluster(settings):
    files = day_files(settings, date(2026, 10, 1), current=True)
    assert config_maps(files) == {"legacy": {}, "orders": {"orders-api": "4"}, "payments": {"payments-api": "6"}}
    assert files.manifest()["clusters"] == ["gke-eu", "gke-us"]  # seen in the snapshots, and configured


def test_rerunning_a_day_writes_the_same_bytes(settings):
    first = write_policies(settings, date(2026, 10, 20))
    before = folder.read_local(settings.policy_dir, date(2026, 10, 20))
    second = write_policies(settings, date(2026, 10, 20))
    assert first == second and folder.read_local(settings.policy_dir, date(2026, 10, 20)) == before
    assert first["folder"].endswith("dt=2026-10-20")


def test_production_writes_the_folder_to_the_bucket_manifest_last(settings, empty_gcs):
    empty_gcs.create_bucket("ledger-archive")
    remote = replace(settings, policy_dir="gs://ledger-archive/policies")
    summary = write_policies(remote, date(2026, 10, 20), storage_client=empty_gcs.client())
    assert summary["folder"] == "gs://ledger-archive/policies/dt=2026-10-20"
    objects = empty_gcs.read_objects("ledger-archive", "policies/dt=2026-10-20/")
    expected = day_files(settings, date(2026, 10, 20)).files
    assert {name.rsplit("/", 1)[1]: data for name, data in objects.items()} == expected
    assert json.loads(objects["policies/dt=2026-10-20/manifest.json"])["limits"] == 2


def test_production_never_writes_to_the_workers_disk(settings):
    from replica_ledger.settings import GcpSettings

    with pytest.raises(RuntimeError, match="production writes the policy folders to gs://"):
        write_policies(replace(settings, gcp=GcpSettings(bucket="b", collector_image="i")), date(2026, 10, 20))

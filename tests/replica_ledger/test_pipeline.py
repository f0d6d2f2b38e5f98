"""The pipeline's load step on a real DuckDB file: idempotent per day, gaps recorded,
unreadable files kept with their error (and none of their rows), one expected-cluster
rule, and the change log reloaded whole."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from replica_ledger import pipeline
from replica_ledger.raw.day import write_day_rows
from replica_ledger.raw.stores import LocalStore
from replica_ledger.settings import Settings, load_settings
from replica_ledger.warehouse import duckdb as warehouse
from tests.replica_ledger.test_archive import api_items, write_snapshot
from tests.support.airflow_cli import table_fingerprints

DAY = date(2026, 10, 14)


@pytest.fixture
def settings(tmp_path) -> Settings:
    changes = tmp_path / "changes.jsonl"
    changes.write_text(
        json.dumps({"change_id": "c1", "namespace": "shop", "deployment": "api.v2-eu", "max_replicas": 4}) + "\n"
    )
    return replace(
        Settings(),
        archive_dir=tmp_path / "archive",
        ped_changes=changes,
        duckdb_path=tmp_path / "warehouse.duckdb",
        clusters=("gke-eu", "gke-us", "gke-asia"),
    )


def manifest(settings: Settings) -> dict[str, tuple]:
    with warehouse.connect(settings.duckdb_path, read_only=True) as con:
        rows = con.execute(
            "select cluster, status, deployment_count, rejected_count, error from raw.snapshot_manifest"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_load_day_records_loaded_missing_and_unreadable_clusters(settings):
    write_snapshot(settings.archive_dir, "gke-eu", [*api_items(), {"kind": "Secret"}])
    (archive_day := settings.archive_dir / f"dt={DAY}").mkdir(exist_ok=True)
    (archive_day / "gke-us.json").write_text("{truncated")
    summary = pipeline.load_day(settings, DAY)
    assert summary["clusters"] == {"gke-asia": "missing", "gke-eu": "loaded", "gke-us": "unreadable"}
    assert summary["rejected_objects"] == 1
    rows = manifest(settings)
    assert rows["gke-eu"][:3] == ("loaded", 1, 1)
    assert rows["gke-us"][0] == "unreadable" and "malformed JSON" in rows["gke-us"][3]
    assert rows["gke-asia"] == ("missing", 0, 0, None)


def test_loading_a_day_twice_replaces_it(settings):
    write_snapshot(settings.archive_dir, "gke-eu", api_items())
    pipeline.load_day(settings, DAY)
    first = table_fingerprints(settings.duckdb_path)
    summary = pipeline.load_day(settings, DAY)
    assert table_fingerprints(settings.duckdb_path) == first
    assert summary["rows"]["k8s_deployments"] == 1 and summary["rows"]["ped_limit_changes"] == 1


def test_other_days_are_untouched_by_a_day_reload(settings):
    write_snapshot(settings.archive_dir, "gke-eu", api_items())
    pipeline.load_day(settings, DAY)
    pipeline.load_day(settings, date(2026, 10, 15))  # no files that day: gaps only
    with warehouse.connect(settings.duckdb_path, read_only=True) as con:
        days = con.execute("select snapshot_date, count(*) from raw.k8s_deployments group by all").fetchall()
    assert days == [(DAY, 1)]


def test_a_cluster_once_seen_is_expected_every_day_after(settings):
    """Configured, plus seen on or before the day: the same rule on both paths (raw.day)."""
    only = replace(settings, clusters=("gke-eu",))
    write_snapshot(only.archive_dir, "gke-eu", api_items())
    earlier = DAY - timedelta(days=3)
    (only.archive_dir / f"dt={earlier}").mkdir(parents=True)
    (only.archive_dir / f"dt={earlier}" / "gke-hand.json").write_text('{"items": []}')
    (only.archive_dir / f"dt={DAY + timedelta(days=1)}").mkdir(parents=True)
    (only.archive_dir / f"dt={DAY + timedelta(days=1)}" / "gke-later.json").write_text('{"items": []}')
    assert pipeline.load_day(only, earlier - timedelta(days=1))["clusters"] == {"gke-eu": "missing"}
    assert pipeline.load_day(only, earlier)["clusters"] == {"gke-eu": "missing", "gke-hand": "loaded"}
    summary = pipeline.load_day(only, DAY)
    assert summary["clusters"] == {"gke-eu": "loaded", "gke-hand": "missing"}  # gke-later is not yet seen
    assert summary["gaps"] == ["gke-hand"]
    assert pipeline.take_snapshot(only, DAY, live_allowed=False)["clusters_missing"] == ["gke-hand"]


def test_plain_json_and_its_meta_win_over_the_gzip_twin(settings):
    gz = write_snapshot(settings.archive_dir, "gke-eu", api_items("shop", "from-gzip"), gz=True)
    write_snapshot(settings.archive_dir, "gke-eu", api_items(), meta={"captured_at": "2026-10-15T00:04:07Z"})
    assert gz.exists()
    pipeline.load_day(settings, DAY)
    with warehouse.connect(settings.duckdb_path, read_only=True) as con:
        deployments = con.execute("select deployment, captured_at from raw.k8s_deployments").fetchall()
        (source,) = con.execute("select source_uri from raw.snapshot_manifest where cluster = 'gke-eu'").fetchone()
    assert deployments == [("api.v2-eu", datetime(2026, 10, 15, 0, 4, 7))]
    assert source == f"dt={DAY}/gke-eu.json"


def test_a_file_bad_half_way_leaves_none_of_its_rows(settings):
    items = [*api_items("shop", "a"), *api_items("shop", "b"), *api_items("shop", "c")]
    good = json.dumps({"kind": "List", "items": items}).encode()
    write_snapshot(settings.archive_dir, "gke-us", items)
    (settings.archive_dir / f"dt={DAY}" / "gke-eu.json.gz").write_bytes(gzip.compress(good[:-40]))  # cut late
    with warehouse.connect(settings.duckdb_path) as con:
        warehouse.ensure_raw_schema(con)
        with warehouse.replacing_day(con, DAY) as sink:
            # One row per batch: the bad file's first rows reach DuckDB before its end is read.
            load = write_day_rows(LocalStore(settings.archive_dir), DAY, (), sink, batch_rows=1)
        rows = con.execute("select cluster, count(*) from raw.k8s_deployments group by all order by 1").fetchall()
    assert load.statuses() == {"gke-eu": "unreadable", "gke-us": "loaded"}
    assert rows == [("gke-us", 3)]
    assert load.rows["k8s_deployments"] == 3


def test_past_day_snapshot_never_captures_live(settings):
    live = replace(settings, kubeconfig="/nonexistent/kubeconfig")
    summary = pipeline.take_snapshot(live, DAY, live_allowed=False)
    assert summary["live_capture"] is False
    assert summary["clusters_missing"] == ["gke-asia", "gke-eu", "gke-us"]


def test_settings_follow_the_local_dir(monkeypatch, tmp_path):
    for name in ("REPLICA_LEDGER_DUCKDB", "REPLICA_LEDGER_SLACK_OUTBOX", "REPLICA_LEDGER_DBT_DOCS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REPLICA_LEDGER_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("REPLICA_LEDGER_CLUSTERS", "gke-eu, gke-us,")
    settings = load_settings()
    assert settings.duckdb_path == tmp_path / "warehouse.duckdb"
    assert settings.slack_outbox == tmp_path / "outbox"
    assert settings.clusters == ("gke-eu", "gke-us")
    assert isinstance(settings.archive_dir, Path)


def test_the_window_reloads_only_days_whose_files_changed(settings):
    """The load record (raw.record): a later run loads a past day of its window again only
    when the day's files appeared or changed; a day with no file and no load stays as it was."""
    write_snapshot(settings.archive_dir, "gke-eu", api_items())
    pipeline.load_day(settings, DAY)
    later = DAY + timedelta(days=2)
    first = pipeline.load_day(settings, later)
    assert (first["lookback_days"], first["reloaded_days"]) == (7, {})  # DAY unchanged, DAY+1 never loaded

    write_snapshot(settings.archive_dir, "gke-us", api_items(), meta={"captured_at": "2026-10-15T00:03:00Z"})
    summary = pipeline.load_day(settings, later)
    reloaded = {"gke-asia": "missing", "gke-eu": "loaded", "gke-us": "loaded"}
    assert summary["reloaded_days"] == {DAY.isoformat(): reloaded}
    assert pipeline.load_day(settings, later)["reloaded_days"] == {}

    (settings.archive_dir / f"dt={DAY}" / "gke-us.meta.json").unlink()  # a file removed is a change too
    assert pipeline.load_day(settings, later, lookback_days=1)["reloaded_days"] == {}  # DAY is outside [D-1, D]
    assert list(pipeline.load_day(settings, later)["reloaded_days"]) == [DAY.isoformat()]


def test_a_hole_in_the_history_is_filled_but_a_run_never_reaches_before_the_first_day(settings):
    write_snapshot(settings.archive_dir, "gke-eu", api_items())
    pipeline.load_day(settings, DAY)  # the first day the warehouse loads
    later = DAY + timedelta(days=3)
    pipeline.load_day(settings, later)  # DAY+1 and DAY+2: no file, never loaded
    for day in (DAY - timedelta(days=1), DAY + timedelta(days=1)):
        (settings.archive_dir / f"dt={day}").mkdir(parents=True)
        (settings.archive_dir / f"dt={day}" / "gke-eu.json").write_text('{"items": []}')
    assert list(pipeline.load_day(settings, later)["reloaded_days"]) == [(DAY + timedelta(days=1)).isoformat()]

"""The snapshot archive parser (contract §1.1): what is read, and what is rejected with a reason."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from replica_ledger import archive
from tooling.k8s_objects import deployment_object, hpa_object, kubectl_list

DAY = date(2026, 10, 14)


def write_snapshot(root: Path, cluster: str, items: list, *, gz: bool = False, meta: dict | None = None) -> Path:
    folder = archive.day_dir(root, DAY)
    folder.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(kubectl_list(items)).encode()
    path = folder / f"{cluster}.json{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    if meta is not None:
        (folder / f"{cluster}.meta.json").write_text(json.dumps(meta))
    return path


def api_items(namespace="shop", name="api.v2-eu"):
    return [
        deployment_object(namespace, name, replicas=3, cpu=2, memory_gb=4, team="shop-team"),
        hpa_object(namespace, name, target=name, min_replicas=2, max_replicas=6, current=3),
    ]


def test_reads_deployments_and_hpas_with_meta_capture_time(tmp_path):
    path = write_snapshot(tmp_path, "gke-eu", api_items(), meta={"captured_at": "2026-10-15T00:04:07Z"})
    snapshot = archive.parse_snapshot(path, "gke-eu", DAY)
    assert snapshot.captured_at == datetime(2026, 10, 15, 0, 4, 7, tzinfo=UTC)
    assert [row["deployment"] for row in snapshot.deployments] == ["api.v2-eu"]
    assert snapshot.deployments[0]["spec_replicas"] == 3
    assert snapshot.deployments[0]["team_label"] == "shop-team"
    assert [(row["target_name"], row["max_replicas"]) for row in snapshot.hpas] == [("api.v2-eu", 6)]
    assert snapshot.rejects == []


def test_gzip_without_meta_counts_as_captured_at_end_of_day(tmp_path):
    path = write_snapshot(tmp_path, "gke-us", api_items(), gz=True)
    snapshot = archive.parse_snapshot(path, "gke-us", DAY)
    assert snapshot.captured_at == datetime(2026, 10, 15, tzinfo=UTC)
    assert len(snapshot.deployments) == 1


def test_plain_json_wins_over_a_gzip_twin_and_meta_is_not_a_cluster(tmp_path):
    write_snapshot(tmp_path, "gke-eu", api_items(), gz=True)
    plain = write_snapshot(tmp_path, "gke-eu", api_items(), meta={"captured_at": "2026-10-15T00:04:00Z"})
    assert archive.snapshot_files(tmp_path, DAY) == {"gke-eu": plain}


def test_bad_items_are_rejected_with_a_reason_and_counted(tmp_path):
    no_max = hpa_object("shop", "api", target="api", min_replicas=2, max_replicas=4, current=2)
    del no_max["spec"]["maxReplicas"]
    no_namespace = deployment_object("shop", "x", replicas=1, cpu=1, memory_gb=1)
    del no_namespace["metadata"]["namespace"]
    text_replicas = deployment_object("shop", "y", replicas=1, cpu=1, memory_gb=1)
    text_replicas["spec"]["replicas"] = "three"
    items = [*api_items(), no_max, no_namespace, text_replicas, {"kind": "ConfigMap"}, "garbage"]
    snapshot = archive.parse_snapshot(write_snapshot(tmp_path, "gke-eu", items), "gke-eu", DAY)
    reasons = {reject["item_index"]: reject["reason"] for reject in snapshot.rejects}
    assert reasons == {
        2: "missing spec.maxReplicas",
        3: "missing metadata.namespace",
        4: "expected an integer, got 'three'",
        5: "unexpected kind 'ConfigMap'",
        6: "item is not an object",
    }
    # Nothing lost: every item is a row or a reject.
    assert len(snapshot.deployments) + len(snapshot.hpas) + len(snapshot.rejects) == len(items)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("gke-eu.json", b"{not json", "malformed JSON"),
        ("gke-eu.json", b'{"kind": "List"}', "not a kubectl List"),
        ("gke-eu.json.gz", b"not gzip at all", "not valid gzip"),
    ],
)
def test_unusable_files_raise_a_clear_error(tmp_path, name, content, message):
    folder = archive.day_dir(tmp_path, DAY)
    folder.mkdir(parents=True)
    (folder / name).write_bytes(content)
    with pytest.raises(archive.SnapshotUnreadable, match=message):
        archive.parse_snapshot(folder / name, "gke-eu", DAY)


def test_meta_without_time_zone_is_unreadable(tmp_path):
    path = write_snapshot(tmp_path, "gke-eu", api_items(), meta={"captured_at": "2026-10-15T00:04:00"})
    with pytest.raises(archive.SnapshotUnreadable, match="captured_at unreadable"):
        archive.parse_snapshot(path, "gke-eu", DAY)


def test_clusters_seen_until_ignores_later_days(tmp_path):
    write_snapshot(tmp_path, "gke-eu", api_items())
    assert archive.clusters_seen_until(tmp_path, DAY) == {"gke-eu"}
    assert archive.clusters_seen_until(tmp_path, date(2026, 10, 13)) == set()

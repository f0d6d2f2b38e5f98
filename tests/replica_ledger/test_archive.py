"""The snapshot archive parser (contract §1.1): what is read, and what is rejected with a reason;
the streaming reader gives what json.loads gives, and the layout decides which file counts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from replica_ledger import archive
from replica_ledger.raw.layout import ARCHIVE
from replica_ledger.raw.stores import LocalStore
from tooling.k8s_objects import deployment_object, hpa_object, kubectl_list

DAY = date(2026, 10, 14)


def write_snapshot(root: Path, cluster: str, items: list, *, gz: bool = False, meta: dict | None = None) -> Path:
    folder = root / ARCHIVE.day_folder(DAY)
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
    folder = tmp_path / ARCHIVE.day_folder(DAY)
    folder.mkdir(parents=True)
    (folder / name).write_bytes(content)
    with pytest.raises(archive.SnapshotUnreadable, match=message):
        archive.parse_snapshot(folder / name, "gke-eu", DAY)


def test_meta_without_time_zone_is_unreadable(tmp_path):
    path = write_snapshot(tmp_path, "gke-eu", api_items(), meta={"captured_at": "2026-10-15T00:04:00"})
    with pytest.raises(archive.SnapshotUnreadable, match="captured_at unreadable"):
        archive.parse_snapshot(path, "gke-eu", DAY)


def test_snapshots_until_ignores_later_days(tmp_path):
    write_snapshot(tmp_path, "gke-eu", api_items())
    store = LocalStore(tmp_path)
    assert ARCHIVE.snapshots_until(store, DAY) == {DAY: {"gke-eu": f"dt={DAY}/gke-eu.json"}}
    assert ARCHIVE.snapshots_until(store, date(2026, 10, 13)) == {}
    assert ARCHIVE.days(store) == [DAY]


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["dt=2026-10-14/gke-eu.json.gz", "dt=2026-10-14/gke-eu.json"], "dt=2026-10-14/gke-eu.json"),
        (["dt=2026-10-14/gke-eu.json", "dt=2026-10-14/gke-eu.json.gz"], "dt=2026-10-14/gke-eu.json"),
        (["dt=2026-10-14/gke-eu.json.gz", "dt=2026-10-14/gke-eu.meta.json"], "dt=2026-10-14/gke-eu.json.gz"),
    ],
)
def test_plain_json_wins_whatever_the_listing_order(names, expected):
    assert ARCHIVE.pick_snapshots(names) == {DAY: {"gke-eu": expected}}


@pytest.mark.parametrize(
    ("name", "cluster"),
    [
        ("dt=2026-10-14/gke-eu.json", "gke-eu"),
        ("dt=2026-10-14/gke-sub-proc.json.gz", "gke-sub-proc"),
        ("dt=2026-10-14/gke.sub.proc.json.gz", None),  # a cluster name is a DNS-1123 label: no dots
        ("dt=2026-10-14/gke-eu.meta.json", None),  # a meta file is not a cluster
        ("dt=2026-10-14/nested/gke-eu.json", None),
        ("dt=2026-10-14/gke-eu.yaml", None),
        ("dt=2026-10-14/.json", None),
        ("gke-eu.json", None),
    ],
)
def test_cluster_name_of_a_file(name, cluster):
    assert ARCHIVE.cluster_of(name) == cluster


def test_day_of_a_name_and_names_of_a_day():
    assert ARCHIVE.day_of("dt=2026-10-14/gke-eu.json") == DAY
    assert ARCHIVE.day_of("dt=2026-13-01/gke-eu.json") is None
    assert ARCHIVE.day_of("other/gke-eu.json") is None
    assert ARCHIVE.snapshot_name(DAY, "gke-eu", gzip=True) == "dt=2026-10-14/gke-eu.json.gz"
    assert ARCHIVE.meta_name(DAY, "gke-eu") == "dt=2026-10-14/gke-eu.meta.json"


# --------------------------------------------------------------------------- streaming


def streamed(document: bytes, name: str = "c.json") -> tuple[list, str]:
    items = archive.SnapshotItems(io.BytesIO(document), name)
    return list(items), items.sha256


def fleet_items(count: int = 40) -> list:
    items = []
    for index in range(count):
        items += api_items("shop", f"api-{index}.v1-eu")
    return [*items, "text item", 12345, 1.5e3, None, True, {"kind": "ConfigMap", "data": {"k": 'é \\u2603 "q"'}}]


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 4096])
@pytest.mark.parametrize("indent", [None, 4])
def test_streamed_items_equal_json_loads_at_any_chunk_size(monkeypatch, chunk, indent):
    monkeypatch.setattr(archive, "CHUNK_BYTES", chunk)
    document = json.dumps(kubectl_list(fleet_items()), indent=indent).encode()
    items, digest = streamed(document)
    assert items == json.loads(document)["items"]
    assert digest == hashlib.sha256(document).hexdigest()


@pytest.mark.parametrize(
    "document",
    [
        b'{"items": [], "kind": "List"}',
        b'{"kind": "List", "metadata": {"items": [1]}, "items": [{"kind": "X"}]}',  # items last, nested 'items'
        b'\xef\xbb\xbf  {"items" : [ 1 , 2 ] }  \n',  # BOM and whitespace
    ],
)
def test_items_wherever_they_are_in_the_document(monkeypatch, document):
    monkeypatch.setattr(archive, "CHUNK_BYTES", 3)
    assert streamed(document)[0] == json.loads(document.decode("utf-8-sig"))["items"]


def test_an_item_larger_than_a_chunk(monkeypatch):
    monkeypatch.setattr(archive, "CHUNK_BYTES", 16)
    big = {"kind": "ConfigMap", "data": {"blob": "x" * 100_000}}
    assert streamed(json.dumps({"items": [big, 7]}).encode())[0] == [big, 7]


def test_gzip_is_read_as_a_stream_and_hashed_unzipped(monkeypatch):
    monkeypatch.setattr(archive, "CHUNK_BYTES", 5)
    document = json.dumps(kubectl_list(fleet_items(5))).encode()
    items, digest = streamed(gzip.compress(document), "c.json.gz")
    assert items == json.loads(document)["items"]
    assert digest == hashlib.sha256(document).hexdigest()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b'{"items": [1, 2', "malformed JSON"),
        (b'{"items": [1, 2]} trailing', "malformed JSON"),
        (b'{"items": [1 2]}', "malformed JSON"),
        (b'{"items": [1], "kind": }', "malformed JSON"),
        (b"", "malformed JSON"),
        (b"[1, 2]", "not a kubectl List"),
        (b'{"items": {"a": 1}}', "'items' is not an array"),
        (b'{"items": [1], "items": [2]}', "two 'items' arrays"),
        (b'{"items": ["\xff"]}', "malformed JSON"),  # not UTF-8
    ],
)
def test_a_bad_document_raises_a_clear_error_even_late(monkeypatch, document, message):
    monkeypatch.setattr(archive, "CHUNK_BYTES", 4)
    with pytest.raises(archive.SnapshotUnreadable, match=message):
        streamed(document)


def test_truncated_gzip_is_not_valid_gzip():
    data = gzip.compress(json.dumps(kubectl_list(fleet_items(20))).encode())
    with pytest.raises(archive.SnapshotUnreadable, match="not valid gzip"):
        streamed(data[: len(data) // 2], "c.json.gz")

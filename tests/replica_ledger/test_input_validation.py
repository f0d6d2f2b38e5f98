"""Unit tests of the input checks where they live: the change log reader and its Python twin
of the validation (changelog), the snapshot parser (archive: meta files, replica counts,
Kubernetes names), the change-log guard (warehouse) and the collector's date window."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from replica_ledger import archive, changelog
from replica_ledger.collector.settings import snapshot_date_problem
from replica_ledger.warehouse import duckdb as warehouse
from tooling.k8s_objects import deployment_object, hpa_object

DAY = date(2026, 10, 14)

# --------------------------------------------------------------------------- change log reader


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("4", "4"),
        ("4.5", "4.5"),
        ('"6"', '"6"'),  # a string stays recognisable as one
        ("true", "true"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("1e999", "Infinity"),  # overflows while reading: still visible, still refused
        ("1e308", "1e+308"),
        ("2.0", "2.0"),
        ("null", None),
    ],
)
def test_number_fields_keep_their_json_text(written, kept):
    row = changelog.change_row(1, '{"change_id": "c1", "cpu": ' + written + "}")
    assert row["cpu"] == kept and row["parse_error"] is None


def test_text_fields_are_kept_as_written():
    row = changelog.change_row(1, '{"change_id": "c1", "namespace": "shop", "team": 7}')
    assert (row["change_id"], row["namespace"], row["team"]) == ("c1", "shop", "7")


def test_a_byte_order_mark_is_not_part_of_the_first_row(tmp_path):
    path = tmp_path / "ped.jsonl"
    path.write_text('\ufeff{"change_id": "c1"}\n{"change_id": "c2"}\n', encoding="utf-8")
    rows = list(changelog.read_change_log(path))
    assert [(row["change_id"], row["parse_error"]) for row in rows] == [("c1", None), ("c2", None)]
    assert rows[0]["raw_line"] == '{"change_id": "c1"}'


GOOD = {
    "change_id": "c1",
    "namespace": "shop",
    "deployment": "api.v2-eu",
    "max_replicas": 4,
    "cpu": 0.5,
    "memory_gb": 2,
    "changed_at": "2026-10-01T00:00:00Z",
    "action": "upsert",
}


@pytest.mark.parametrize(
    "bad",
    [
        {"max_replicas": 4.5},
        {"max_replicas": "6"},
        {"max_replicas": True},
        {"min_replicas": "2"},
        {"cpu": float("nan")},
        {"cpu": float("inf")},
        {"cpu": 1e308},
        {"cpu": "2"},
        {"cpu": True},
        {"cpu": 0},
        {"memory_gb": -1},
        {"namespace": "Shop"},
        {"namespace": "n" * 64},
        {"deployment": "api_v2"},
        {"deployment": "a" * 254},
    ],
)
def test_usable_refuses_what_the_validation_model_quarantines(bad):
    assert changelog.usable(GOOD)
    assert not changelog.usable({**GOOD, **bad})


def test_kubernetes_name_limits():
    assert changelog.is_namespace_name("n" * 63) and not changelog.is_namespace_name("n" * 64)
    assert changelog.is_object_name("a" * 253) and not changelog.is_object_name("a" * 254)
    assert changelog.is_object_name("api.v2-eu") and not changelog.is_namespace_name("api.v2")
    assert not changelog.is_object_name("-api") and not changelog.is_object_name("api.")


# --------------------------------------------------------------------------- meta files


def meta(**fields) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.parametrize(
    "captured_at",
    ["2026-10-14T00:00:00Z", "2026-10-15T00:04:07Z", "2026-10-15T23:59:59Z", "2026-10-16T01:00:00+02:00"],
)
def test_a_capture_time_inside_the_window_is_used(captured_at):
    capture = archive.capture_from_meta(
        "gke-eu.meta.json", meta(cluster="gke-eu", captured_at=captured_at), DAY, "gke-eu"
    )
    assert capture.meta_error is None
    assert capture.captured_at == archive.parse_rfc3339(captured_at)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"captured_at": "2026-10-13T23:59:59Z"}, "captured_at 2026-10-13T23:59:59Z is outside"),
        ({"captured_at": "2026-10-16T00:00:00Z"}, "captured_at 2026-10-16T00:00:00Z is outside"),
        ({"captured_at": "2099-01-01T00:00:00Z"}, "[2026-10-14T00:00Z, 2026-10-16T00:00Z) for dt=2026-10-14"),
        ({"cluster": "gke-us", "captured_at": "2026-10-15T00:04:00Z"}, "cluster 'gke-us' is not 'gke-eu'"),
    ],
)
def test_a_meta_file_outside_the_window_or_of_another_cluster_is_rejected(fields, reason):
    capture = archive.capture_from_meta("gke-eu.meta.json", meta(**fields), DAY, "gke-eu")
    assert capture.captured_at == datetime(2026, 10, 15, tzinfo=UTC)  # the default: end of the day
    assert capture.meta_error.startswith("gke-eu.meta.json rejected: ")
    assert reason in capture.meta_error
    assert capture.meta_error.endswith("captured_at taken as 2026-10-15T00:00:00Z (end of the day)")


def test_a_meta_file_without_cluster_is_still_believed():
    capture = archive.capture_from_meta("x.meta.json", meta(captured_at="2026-10-15T00:04:00Z"), DAY, "gke-eu")
    assert capture.meta_error is None and capture.captured_at.minute == 4


# --------------------------------------------------------------------------- objects


def classify(item: dict) -> tuple[str, dict]:
    return archive.classify_item(0, item)


def test_a_deployment_without_spec_replicas_is_rejected_not_read_as_one():
    item = deployment_object("shop", "api", replicas=3, cpu=1, memory_gb=1)
    del item["spec"]["replicas"]
    table, row = classify(item)
    assert (table, row["reason"]) == ("k8s_rejects", "missing spec.replicas")


def test_a_negative_replica_count_is_rejected_not_a_rollout():
    item = deployment_object("shop", "api", replicas=3, cpu=1, memory_gb=1)
    item["spec"]["replicas"] = -3
    table, row = classify(item)
    assert (table, row["reason"]) == ("k8s_rejects", "negative spec.replicas: -3")


def test_zero_replicas_is_a_real_count():
    table, row = classify(deployment_object("shop", "api", replicas=0, cpu=1, memory_gb=1))
    assert (table, row["spec_replicas"]) == ("k8s_deployments", 0)


@pytest.mark.parametrize(
    ("namespace", "name", "reason"),
    [
        ("Shop", "api", "metadata.namespace 'Shop' is not a DNS-1123 label"),
        ("shop.eu", "api", "metadata.namespace 'shop.eu' is not a DNS-1123 label"),
        ("n" * 64, "api", "is not a DNS-1123 label of at most 63 characters"),
        ("shop", "API", "metadata.name 'API' is not a DNS-1123 subdomain"),
        ("shop", "a" * 254, "is not a DNS-1123 subdomain of at most 253 characters"),
    ],
)
def test_invalid_kubernetes_names_are_rejected(namespace, name, reason):
    for item in (
        deployment_object(namespace, name, replicas=1, cpu=1, memory_gb=1),
        hpa_object(namespace, name, target="api", min_replicas=1, max_replicas=2, current=1),
    ):
        table, row = classify(item)
        assert table == "k8s_rejects" and reason in row["reason"]


# --------------------------------------------------------------------------- change-log guard


def rows_of(*lines: str) -> list[dict]:
    return [changelog.change_row(seq, line) for seq, line in enumerate(lines, start=1)]


def test_the_guard_accepts_the_same_or_a_longer_log_and_ignores_an_old_bom(tmp_path):
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        warehouse.ensure_raw_schema(con)
        # Loaded before the reader dropped byte order marks: the held first line has one.
        warehouse.replace_change_log(con, rows_of('\ufeff{"change_id": "a"}', '{"change_id": "b"}'))
        warehouse.check_change_log(con, rows_of('{"change_id": "a"}', '{"change_id": "b"}'))
        assert warehouse.replace_change_log(con, rows_of('{"change_id": "a"}', '{"change_id": "b"}', "{}")) == 3


def test_the_guard_names_the_file_and_the_counts(tmp_path):
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        warehouse.ensure_raw_schema(con)
        warehouse.replace_change_log(con, rows_of('{"change_id": "a"}', '{"change_id": "b"}'))
        with pytest.raises(warehouse.ChangeLogShrank, match=r"/data/ped.jsonl has 0 rows but .* holds 2"):
            warehouse.replace_change_log(con, [], "/data/ped.jsonl")
        with pytest.raises(warehouse.ChangeLogShrank, match="row 1 of 2 differs"):
            warehouse.replace_change_log(con, rows_of('{"change_id": "z"}', '{"change_id": "b"}'))
        assert con.execute("select count(*) from raw.ped_limit_changes").fetchone() == (2,)


def test_an_empty_log_on_an_empty_warehouse_is_fine(tmp_path):
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        warehouse.ensure_raw_schema(con)
        assert warehouse.replace_change_log(con, []) == 0


# --------------------------------------------------------------------------- collector --date


@pytest.mark.parametrize(
    ("now", "problem"),
    [
        (datetime(2026, 10, 14, 23, 59, 59, tzinfo=UTC), "has not ended yet"),
        (datetime(2026, 10, 15, 0, 0, 0, tzinfo=UTC), None),
        (datetime(2026, 10, 15, 0, 4, 31, tzinfo=UTC), None),
        (datetime(2026, 10, 15, 23, 59, 59, tzinfo=UTC), None),
        (datetime(2026, 10, 16, 0, 0, 0, tzinfo=UTC), "too far back"),
        (datetime(2026, 10, 16, 1, 0, 0, tzinfo=UTC) + timedelta(days=30), "too far back"),
    ],
)
def test_the_collector_date_window(now, problem):
    found = snapshot_date_problem(DAY, now)
    assert found is None if problem is None else problem in found

"""One bad object, one badly named file or one link out of the archive never fails a day.

Unit cases first (the snapshot parser, the audit write rows, the archive's names and the
local store), then one small month built twice with the real loader and a real dbt build
on DuckDB, once clean and once with every bad input of these classes: dbt build passes,
every other object is loaded and built, the bill does not move, and each bad input is a
reject row with its reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from replica_ledger import archive, pipeline
from replica_ledger.audit.entries import read_entry
from replica_ledger.audit.writes import Quarantine, write_row
from replica_ledger.contract import DEFAULT_EXCLUDED_NAMESPACES
from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.raw.day import write_day_rows
from replica_ledger.raw.layout import ARCHIVE
from replica_ledger.raw.ndjson import NdjsonDayFiles
from replica_ledger.raw.stores import LocalStore
from replica_ledger.report import render_report
from tests.replica_ledger.test_bad_inputs import (
    BILLING,
    CLUSTER,
    DAYS,
    good_items,
    month_settings,
    query,
    without_run_times,
    write_change_log,
)
from tooling import audit_entries as make
from tooling.k8s_objects import deployment_object, hpa_object, kubectl_list

# --------------------------------------------------------------------------- integers, where they are parsed


def _deployment(replicas) -> dict:
    item = deployment_object("shop", "big", replicas=3)
    item["spec"]["replicas"] = replicas
    return item


def _parse(text: str) -> list[tuple[str, dict]]:
    """The items of a kubectl List given as JSON text, classified."""
    items = archive.SnapshotItems(__import__("io").BytesIO(text.encode()), "x.json")
    return [archive.classify_item(index, item) for index, item in enumerate(items)]


@pytest.mark.parametrize(
    ("replicas", "reason"),
    [
        (2**64, "spec.replicas 18446744073709551616 is above 2147483647"),  # the example
        (2**31, "spec.replicas 2147483648 is above 2147483647"),
        (-(2**63) - 1, "negative spec.replicas"),
        (1e300, "expected an integer, got 1e+300"),
    ],
)
def test_a_replica_count_beyond_the_kubernetes_range_is_a_reject(replicas, reason):
    table, row = archive.classify_item(0, _deployment(replicas))
    assert table == "k8s_rejects" and row["reason"].startswith(reason), row["reason"]


def test_the_largest_kubernetes_count_is_still_a_count():
    table, row = archive.classify_item(0, _deployment(2**31 - 1))
    assert table == "k8s_deployments" and row["spec_replicas"] == 2**31 - 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", {"replicas": 2**70}), ("status", {"readyReplicas": -1}), ("metadata", {"generation": 2**64})],
)
def test_every_count_of_an_object_is_bounded(field, value):
    item = deployment_object("shop", "big", replicas=3)
    item[field].update(value)
    table, row = archive.classify_item(0, item)
    assert table == "k8s_rejects", row


def test_an_hpa_max_beyond_the_range_is_a_reject():
    item = hpa_object("shop", "api", target="api", min_replicas=2, max_replicas=4, current=3)
    item["spec"]["maxReplicas"] = 2**64
    table, row = archive.classify_item(0, item)
    assert table == "k8s_rejects" and "spec.maxReplicas 18446744073709551616 is above" in row["reason"]


def test_a_five_thousand_digit_count_rejects_its_object_not_the_file():
    good = json.dumps(deployment_object("shop", "api", replicas=3))
    bad = json.dumps(_deployment(123456789)).replace("123456789", "9" * 5000)
    rows = _parse(f'{{"kind": "List", "items": [{bad}, {good}]}}')
    assert [table for table, _ in rows] == ["k8s_rejects", "k8s_deployments"]
    assert rows[0][1]["reason"].startswith("spec.replicas 9999999999") and "is above 2147483647" in rows[0][1]["reason"]


AT = datetime(2026, 10, 30, 9, tzinfo=UTC)


def audit_line(insert_id: str, max_replicas, *, day: date = DAYS[0], hour: int = 9) -> dict:
    return make.log_entry(
        insert_id=insert_id,
        at=datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
        cluster=CLUSTER,
        resource="horizontalpodautoscalers",
        verb="patch",
        namespace="shop",
        name="api",
        principal="dev@example.com",
        user_agent=make.KUBECTL_AGENT,
        request={"spec": {"maxReplicas": max_replicas}},
    )


def audit_text(line: dict, literal: str | None = None) -> str:
    """The JSON line; `literal` replaces the max (Infinity, NaN, a 30-digit integer as written)."""
    text = json.dumps(line)
    return text if literal is None else text.replace('"maxReplicas": "X"', f'"maxReplicas": {literal}')


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        ("1e300", "spec.maxReplicas in the request is 1e+300, above 2147483647"),  # the example
        ("18446744073709551616", "spec.maxReplicas in the request is 18446744073709551616, above 2147483647"),
        ("Infinity", "spec.maxReplicas in the request is inf, not an integer"),
        ("-3", "spec.maxReplicas in the request is -3, a negative count"),
        ("2.5", "spec.maxReplicas in the request is 2.5, not an integer"),
    ],
)
def test_an_audit_max_that_is_no_count_is_quarantined(literal, reason):
    entry = read_entry(json.loads(audit_text(audit_line("x", "X"), literal)))
    outcome = write_row(entry, DEFAULT_EXCLUDED_NAMESPACES)
    assert isinstance(outcome, Quarantine) and outcome.reason.startswith(reason), outcome


# --------------------------------------------------------------------------- duplicate identities


def _snapshot_rows(tmp_path: Path, items: list[dict]) -> dict[str, list[dict]]:
    """The rows the day loader writes for one file of `items` (the real loader, an NDJSON sink)."""
    folder = tmp_path / "archive" / f"dt={DAYS[0].isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(items)))
    with NdjsonDayFiles() as sink:
        load = write_day_rows(LocalStore(tmp_path / "archive"), DAYS[0], (CLUSTER,), sink, batch_rows=2)
        tables = {}
        for table in ("k8s_deployments", "k8s_hpas", "k8s_rejects", "snapshot_manifest"):
            tables[table] = [json.loads(line) for line in sink.path(table).read_text().splitlines()]
    assert load.rows["k8s_rejects"] == len(tables["k8s_rejects"])
    return tables


def test_two_deployments_with_one_name_are_rejected_as_a_pair(tmp_path):
    twin = deployment_object("shop", "twin", replicas=9)
    items = [twin, *good_items(), deployment_object("shop", "twin", replicas=3)]
    tables = _snapshot_rows(tmp_path, items)
    assert sorted(row["deployment"] for row in tables["k8s_deployments"]) == ["api", "checkout", "web.v2"]
    reasons = {row["item_index"]: row["reason"] for row in tables["k8s_rejects"]}
    # The first one had already gone to the sink in a batch of 2: it is taken back.
    expected = "duplicate Deployment shop/twin: items 0, 5 of the file have the same namespace and name"
    assert set(reasons) == {0, 5} and all(reason.startswith(expected) for reason in reasons.values())
    assert tables["snapshot_manifest"][0]["rejected_count"] == 2
    assert tables["snapshot_manifest"][0]["deployment_count"] == 3


def test_three_hpas_with_one_name_are_all_rejected_and_a_deployment_of_that_name_is_not(tmp_path):
    hpa = hpa_object("shop", "api", target="api", min_replicas=2, max_replicas=4, current=3)
    tables = _snapshot_rows(tmp_path, [*good_items(), hpa, hpa])
    assert tables["k8s_hpas"] == []
    assert [row["item_index"] for row in tables["k8s_rejects"]] == [1, 4, 5]
    assert "duplicate HorizontalPodAutoscaler shop/api: items 1, 4, 5" in tables["k8s_rejects"][0]["reason"]
    assert "api" in {row["deployment"] for row in tables["k8s_deployments"]}  # another kind, same name


def test_one_name_in_two_namespaces_is_two_objects(tmp_path):
    tables = _snapshot_rows(
        tmp_path, [deployment_object("shop", "api", replicas=3), deployment_object("pay", "api", replicas=3)]
    )
    assert len(tables["k8s_deployments"]) == 2 and tables["k8s_rejects"] == []


# --------------------------------------------------------------------------- names and paths from the archive


@pytest.mark.parametrize(
    "name",
    [
        "...json",  # the examples
        "gke eu.json",
        "GKE-EU.json",
        "gke_eu.json",
        "-gke.json",
        "gke-.json.gz",
        f"{'g' * 64}.json",
        "gke.eu.json",
        "gke-eu\u00e9.json",
    ],
)
def test_a_file_whose_name_is_not_a_cluster_name_is_a_reject_not_a_cluster(tmp_path, name):
    folder = tmp_path / "archive" / f"dt={DAYS[0].isoformat()}"
    folder.mkdir(parents=True)
    (folder / name).write_text(json.dumps(kubectl_list(good_items())))
    (folder / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(good_items())))
    with NdjsonDayFiles() as sink:
        load = write_day_rows(LocalStore(tmp_path / "archive"), DAYS[0], (), sink)
        rejects = [json.loads(line) for line in sink.path("k8s_rejects").read_text().splitlines()]
    assert load.statuses() == {CLUSTER: "loaded"}
    assert len(rejects) == 1 and rejects[0]["item_index"] == -1
    assert rejects[0]["reason"].endswith(f"snapshot file 'dt={DAYS[0].isoformat()}/{name}' not loaded")
    assert rejects[0]["reason"].startswith(
        f"{name.removesuffix('.gz').removesuffix('.json')[:80]!r} is not a cluster name"
    )
    assert ARCHIVE.cluster_of(f"dt={DAYS[0].isoformat()}/{name}") is None


def test_a_symbolic_link_to_a_file_outside_the_archive_is_never_read(tmp_path):
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps(kubectl_list(good_items())))
    folder = tmp_path / "archive" / f"dt={DAYS[0].isoformat()}"
    folder.mkdir(parents=True)
    (folder / "gke-us.json").symlink_to(outside)
    (folder / "gke-us.meta.json").symlink_to(outside)
    store = LocalStore(tmp_path / "archive")
    with pytest.raises(PermissionError, match="symbolic link to a file outside the archive"):
        store.open(f"dt={DAYS[0].isoformat()}/gke-us.json")
    with pytest.raises(PermissionError, match="outside the archive"):
        store.read(f"dt={DAYS[0].isoformat()}/gke-us.meta.json")
    with pytest.raises(PermissionError, match="outside the archive"):
        store.open("../secret.json")
    with NdjsonDayFiles() as sink:
        load = write_day_rows(store, DAYS[0], (), sink)
        assert sink.path("k8s_deployments").read_text() == ""
    (row,) = load.manifest
    assert row["status"] == "unreadable" and "outside the archive folder; not read" in row["error"]


def test_a_symbolic_link_to_a_day_folder_outside_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(good_items())))
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / f"dt={DAYS[0].isoformat()}").symlink_to(elsewhere, target_is_directory=True)
    store = LocalStore(tmp_path / "archive")
    with pytest.raises(PermissionError, match="symbolic link to a file outside the archive"):
        store.open(f"dt={DAYS[0].isoformat()}/{CLUSTER}.json")


def test_a_symbolic_link_loop_is_unreadable_and_the_day_goes_on(tmp_path):
    folder = tmp_path / "archive" / f"dt={DAYS[0].isoformat()}"
    folder.mkdir(parents=True)
    os.symlink("gke-us.json", folder / "gke-loop.json")
    os.symlink("gke-loop.json", folder / "gke-us.json")
    (folder / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(good_items())))
    settings = replace(month_settings(tmp_path), clusters=())
    write_change_log(settings.ped_changes, bad=False)
    pipeline.load_day(settings, DAYS[0])  # the load record's listing reads the links too
    rows = query(settings, "select cluster, status, error from raw.snapshot_manifest order by cluster")
    assert [(row["cluster"], row["status"]) for row in rows] == [
        (CLUSTER, "loaded"),
        ("gke-loop", "unreadable"),
        ("gke-us", "unreadable"),
    ]
    assert "cannot be resolved (a loop?); not read" in rows[1]["error"]


def test_a_symbolic_link_inside_the_archive_is_read(tmp_path):
    folder = tmp_path / "archive" / f"dt={DAYS[0].isoformat()}"
    folder.mkdir(parents=True)
    (folder / "copy.data").write_text(json.dumps(kubectl_list(good_items())))
    os.symlink("copy.data", folder / f"{CLUSTER}.json")
    with NdjsonDayFiles() as sink:
        load = write_day_rows(LocalStore(tmp_path / "archive"), DAYS[0], (), sink)
    assert load.statuses() == {CLUSTER: "loaded"} and load.rows["k8s_deployments"] == 3


# --------------------------------------------------------------------------- a real month, built twice

# Objects that would move the bill or the facts if they were loaded: shop/api is approved at
# max 4, and a count of 8 would raise its observed max and exposure.
OVER = deployment_object("shop", "api", replicas=8)


def _bad_objects() -> list[dict]:
    huge = _deployment(2**64)
    huge["metadata"]["name"] = "huge"
    hpa = hpa_object("shop", "wide", target="wide", min_replicas=2, max_replicas=4, current=3)
    hpa["spec"]["maxReplicas"] = 2**64
    no_replicas = deployment_object("shop", "no-replicas", replicas=3)
    del no_replicas["spec"]["replicas"]
    return [
        huge,
        hpa,
        deployment_object("shop", "twin", replicas=9),
        deployment_object("shop", "twin", replicas=3),
        no_replicas,
    ]


# Each bad file of the second day: (name relative to the day folder, what its reject says).
BAD_FILES = ["...json", "gke eu.json", "GKE-EU.json"]


def write_bad_archive(root: Path, outside: Path) -> None:
    first, second = (root / f"dt={day.isoformat()}" for day in DAYS)
    (first / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(good_items() + _bad_objects())))
    for name in BAD_FILES:
        (second / name).write_text(json.dumps(kubectl_list([OVER])))
    outside.write_text(json.dumps(kubectl_list([OVER])))
    (second / "gke-us.json").symlink_to(outside)


def write_audit(path: Path, *, bad: bool) -> None:
    lines = [json.dumps(audit_line("good-1", 4))]
    if bad:
        lines += [
            audit_text(audit_line("bad-huge", "X", hour=10), "1e300"),
            audit_text(audit_line("bad-2^64", "X", hour=11), str(2**64)),
            audit_text(audit_line("bad-inf", "X", hour=12), "Infinity"),
            json.dumps(audit_line("bad-negative", -8, hour=13)),
        ]
    path.write_text("\n".join(lines) + "\n")


def build(root: Path, *, bad: bool) -> object:
    settings = replace(month_settings(root), audit_log=root / "audit.jsonl")
    for day in DAYS:
        folder = settings.archive_dir / f"dt={day.isoformat()}"
        folder.mkdir(parents=True)
        (folder / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(good_items())))
    if bad:
        write_bad_archive(settings.archive_dir, root / "outside.json")
    write_change_log(settings.ped_changes, bad=False)
    write_audit(settings.audit_log, bad=bad)
    for day in DAYS:
        pipeline.load_day(settings, day)
    # Raises DbtFailed when a model or a test fails (the staging key test among them).
    run_dbt(settings, ["build", "--exclude-resource-type", "unit_test", "--vars", build_vars(settings)])
    return settings


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    target = tmp_path_factory.mktemp("dbt-target")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_TARGET_PATH", str(target / "target"))
        patch.setenv("DBT_LOG_PATH", str(target / "logs"))
        clean = build(tmp_path_factory.mktemp("clean"), bad=False)
        dirty = build(tmp_path_factory.mktemp("bad"), bad=True)
    return clean, dirty


def test_the_bill_the_facts_and_the_breaches_do_not_move(months):
    clean, dirty = months
    for sql in (
        BILLING,
        "select * from fct_replica_breaches order by all",
        "select * from fct_deployment_daily order by all",
        "select * from fct_limit_edits order by all",
    ):
        assert without_run_times(query(dirty, sql)) == without_run_times(query(clean, sql)), sql
    assert len(query(dirty, "select * from fct_deployment_daily")) == 6  # 3 APIs, 2 days


def test_each_bad_object_is_a_reject_with_its_reason(months):
    _, dirty = months
    rows = query(dirty, "select snapshot_date, cluster, item_index, reason from fct_snapshot_rejects order by all")
    first = {row["item_index"]: row["reason"] for row in rows if row["snapshot_date"] == DAYS[0]}
    assert first[4].startswith("spec.replicas 18446744073709551616 is above 2147483647")
    assert first[5].startswith("spec.maxReplicas 18446744073709551616 is above 2147483647")
    assert first[6] == first[7]
    assert first[6].startswith("duplicate Deployment shop/twin: items 6, 7 of the file")
    files = {row["cluster"]: row["reason"] for row in rows if row["snapshot_date"] == DAYS[1]}
    assert set(files) == {"..", "gke eu", "GKE-EU"}
    assert all("is not a cluster name" in reason for reason in files.values())


def test_a_badly_named_file_is_no_cluster_and_a_link_out_is_unreadable(months):
    _, dirty = months
    manifest = query(dirty, "select snapshot_date, cluster, status, error from raw.snapshot_manifest order by all")
    assert {(row["cluster"], row["status"]) for row in manifest} == {
        (CLUSTER, "loaded"),
        ("gke-us", "unreadable"),
    }
    (linked,) = [row for row in manifest if row["cluster"] == "gke-us"]
    assert "gke-us.json is a symbolic link to a file outside the archive folder; not read" in linked["error"]
    gaps = {row["cluster"] for row in query(dirty, "select cluster from fct_snapshot_gaps")}
    assert gaps <= {"gke-us"}


def test_each_bad_audit_value_is_a_reject_and_the_good_edit_is_kept(months):
    _, dirty = months
    events = query(dirty, "select audit_id, new_value from raw.k8s_audit_events order by audit_id")
    assert events == [{"audit_id": "good-1", "new_value": 4}]
    rejects = {row["reason"] for row in query(dirty, "select reason from raw.k8s_audit_rejects")}
    assert rejects == {
        "spec.maxReplicas in the request is 1e+300, above 2147483647 (the Kubernetes API's limit)",
        "spec.maxReplicas in the request is 18446744073709551616, above 2147483647 (the Kubernetes API's limit)",
        "spec.maxReplicas in the request is inf, not an integer",
        "spec.maxReplicas in the request is -8, a negative count",
    }


def test_the_report_lists_the_period_s_rejects_with_their_reasons(months):
    _, dirty = months
    report = render_report(dirty)
    lines = report.splitlines()
    assert "Rejected snapshot objects and files (8)" in report
    (missing,) = [line for line in lines if "shop/no-replicas" in line]
    assert "missing spec.replicas" in missing and "Deployment" in missing and DAYS[0].isoformat() in missing
    assert sum("shop/twin" in line and "duplicate Deployment shop/twin" in line for line in lines) == 2
    assert any("gke eu" in line and "is not a cluster name" in line for line in lines)
    assert "Rejected audit entries (4)" in report
    assert any("audit.jsonl" in line and "1e+300" in line for line in lines)
    # Another month has none of them.
    november = render_report(dirty, date(2026, 11, 1))
    assert "Rejected snapshot objects and files (0)" in november and "Rejected audit entries (0)" in november

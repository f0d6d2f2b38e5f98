"""Reading the local audit log by day: a single file, a dt= folder; every line accounted for."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from replica_ledger.audit.log import AuditLogError, read_audit_day
from replica_ledger.contract import DEFAULT_EXCLUDED_NAMESPACES
from tooling import audit_entries as make

DAY = date(2026, 10, 11)
PERSON = "dev@example.com"


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def hpa_patch(insert_id: str, when: datetime, max_replicas: int, namespace: str = "pricing") -> dict:
    return make.log_entry(
        insert_id=insert_id,
        at=when,
        cluster="gke-demo",
        resource="horizontalpodautoscalers",
        verb="patch",
        namespace=namespace,
        name="quote-api",
        principal=PERSON,
        user_agent=make.KUBECTL_AGENT,
        request={"spec": {"maxReplicas": max_replicas}},
    )


def write_lines(path: Path, lines: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def read(path: Path, day: date = DAY):
    return read_audit_day(path, day, DEFAULT_EXCLUDED_NAMESPACES)


def test_a_single_file_is_split_by_the_utc_day_of_each_line(tmp_path):
    log = write_lines(
        tmp_path / "audit.jsonl",
        [
            hpa_patch("a", at(DAY, 9), 7),
            "{not json",  # goes with the line before it: day 11
            hpa_patch("b", at(date(2026, 10, 12), 1), 4),
        ],
    )
    day = read(log)
    assert [row["new_value"] for row in day.events] == [7]
    assert [(row["line_number"], row["source"]) for row in day.rejects] == [(2, "audit.jsonl")]
    assert day.rejects[0]["reason"].startswith("not JSON")
    assert [row["new_value"] for row in read(log, date(2026, 10, 12)).events] == [4]


def test_an_untimed_first_line_goes_with_the_first_timed_day(tmp_path):
    log = write_lines(tmp_path / "audit.jsonl", ["[]", hpa_patch("a", at(DAY, 9), 7)])
    day = read(log)
    assert [row["reason"] for row in day.rejects] == ["a JSON list, not an object"]


def test_a_folder_is_read_one_dt_day_at_a_time_and_events_take_the_file_cluster(tmp_path):
    event = make.k8s_event(
        audit_id="e-1",
        at=at(DAY, 10),
        resource="deployments",
        verb="patch",
        subresource="scale",
        namespace="shop",
        name="cart",
        username=PERSON,
        user_agent=make.KUBECTL_AGENT,
        request={"spec": {"replicas": 6}},
    )
    write_lines(tmp_path / "dt=2026-10-11" / "gke-eu.jsonl", [event])
    write_lines(tmp_path / "dt=2026-10-11" / "gke-us.jsonl", [hpa_patch("a", at(DAY, 9), 7)])
    write_lines(tmp_path / "dt=2026-10-12" / "gke-eu.jsonl", [hpa_patch("b", at(DAY, 23), 3)])
    day = read(tmp_path)
    assert sorted((row["cluster"], row["deployment"], row["new_value"]) for row in day.events) == [
        ("gke-demo", "quote-api", 7),
        ("gke-eu", "cart", 6),
    ]
    assert all(row["snapshot_date"] == DAY for row in day.events)
    # The folder decides the day, even for a line stamped the day before (a late export).
    assert [row["snapshot_date"] for row in read(tmp_path, date(2026, 10, 12)).events] == [date(2026, 10, 12)]
    assert read(tmp_path, date(2026, 10, 13)).summary() == {"events": 0, "rejects": 0, "skipped": {}}


def test_every_line_is_a_row_a_reject_or_a_counted_skip(tmp_path):
    metadata_only = make.log_entry(
        insert_id="m",
        at=at(DAY, 11),
        cluster="gke-demo",
        resource="deployments",
        verb="patch",
        namespace="pricing",
        name="quote-api",
        principal="ops@example.com",
        user_agent=make.KUBECTL_AGENT,
    )
    received = make.k8s_event(
        audit_id="e-1",
        at=at(DAY, 12),
        resource="deployments",
        verb="patch",
        namespace="pricing",
        name="quote-api",
        username=PERSON,
        user_agent=make.KUBECTL_AGENT,
        stage="RequestReceived",
        cluster="gke-demo",
    )
    lines = [
        hpa_patch("a", at(DAY, 9), 7),
        hpa_patch("a", at(DAY, 9), 7),  # delivered twice
        hpa_patch("k", at(DAY, 9), 7, namespace="kube-system"),
        metadata_only,
        received,
        "",
    ]
    day = read(write_lines(tmp_path / "audit.jsonl", lines))
    assert len(day.events) == 1
    assert day.skipped == {"duplicate entry (same id)": 1, "namespace out of scope": 1, "stage RequestReceived": 1}
    (reject,) = day.rejects
    assert (
        reject["reason"]
        == "a change of unknown size by ops@example.com at 2026-10-11 11:00:00Z (no request or response body)"
    )
    assert (reject["principal"], reject["changed_at"], reject["line_number"]) == (
        "ops@example.com",
        datetime(2026, 10, 11, 11),
        4,
    )
    assert json.loads(reject["entry_json"]) == metadata_only


def test_a_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(AuditLogError, match="does not exist"):
        read(tmp_path / "nowhere.jsonl")


def test_gcloud_json_output_is_read_as_is(tmp_path):
    """`gcloud logging read --format=json` prints one JSON array: read without converting it."""
    log = tmp_path / "audit.json"
    log.write_text(json.dumps([hpa_patch("a", at(DAY, 9), 7), hpa_patch("b", at(DAY, 10), 5)], indent=2))
    assert [row["new_value"] for row in read(log).events] == [7, 5]


def test_a_json_lines_file_starting_with_a_list_is_still_read_by_line(tmp_path):
    log = write_lines(tmp_path / "audit.jsonl", ["[1, 2]", hpa_patch("a", at(DAY, 9), 7)])
    day = read(log)
    assert ([row["new_value"] for row in day.events], [row["line_number"] for row in day.rejects]) == ([7], [1])

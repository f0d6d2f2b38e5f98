"""Audit-log times and values: every line is counted once, on the day it is loaded, as a
write row or a reject with its reason, whatever its stamp, its id or its value."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from replica_ledger.audit.entries import EntryError, parse_timestamp, read_entry
from tests.replica_ledger.audit.test_audit_log import DAY, at, hpa_patch, read, write_lines


def every_day(path: Path, *more: date) -> dict[date, object]:
    """Each day that has anything in the log, of the month around DAY and the days `more`,
    read the way the loader reads it."""
    days = [DAY + timedelta(days=offset) for offset in range(-1, 32)] + list(more)
    found = {day: read(path, day) for day in days}
    return {day: got for day, got in found.items() if got.events or got.rejects or got.skipped}


def counted(days: dict) -> int:
    return sum(len(day.events) + len(day.rejects) + sum(day.skipped.values()) for day in days.values())


@pytest.mark.parametrize(
    "stamp",
    ["2099-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2026-12-25T00:00:00Z", "0001-01-01T00:00:00Z"],
)
def test_a_line_stamped_far_from_the_rest_of_a_file_is_a_reject_on_a_loaded_day(tmp_path, stamp):
    far = hpa_patch("far", at(DAY, 10), 8)
    far["timestamp"] = stamp
    lines = [hpa_patch("a", at(DAY, 9), 7), far, hpa_patch("b", at(DAY + timedelta(days=1), 9), 4)]
    days = every_day(write_lines(tmp_path / "audit.jsonl", lines), parse_timestamp(stamp).date())
    assert sorted(days) == [DAY, DAY + timedelta(days=1)]  # no day of its own
    assert counted(days) == 3
    (reject,) = days[DAY].rejects
    assert reject["line_number"] == 2
    assert reject["reason"].startswith(f"timestamp {parse_timestamp(stamp).isoformat()}Z is ")
    assert "more than 31 days away" in reject["reason"] or "before Kubernetes" in reject["reason"]
    assert f"counted on {DAY.isoformat()}" in reject["reason"]


def test_a_far_first_line_goes_with_the_first_plausible_day(tmp_path):
    far = hpa_patch("far", at(DAY, 10), 8)
    far["timestamp"] = "1970-01-01T00:00:00Z"
    days = every_day(write_lines(tmp_path / "audit.jsonl", [far, hpa_patch("a", at(DAY, 9), 7)]), date(1970, 1, 1))
    assert list(days) == [DAY] and len(days[DAY].rejects) == 1 and len(days[DAY].events) == 1


def test_a_quiet_month_is_not_a_far_stamp(tmp_path):
    lines = [hpa_patch("a", at(DAY, 9), 7), hpa_patch("b", at(DAY + timedelta(days=30), 9), 4)]
    days = every_day(write_lines(tmp_path / "audit.jsonl", lines))
    assert [len(day.events) for day in days.values()] == [1, 1]


@pytest.mark.parametrize(
    ("stamp", "problem"),
    [
        ("2099-01-01T00:00:00Z", "outside"),
        ("1970-01-01T00:00:00Z", "outside"),
        ("2026-10-13T00:00:00Z", "outside"),  # two days after the folder's day
        ("2026-10-12T23:59:59Z", None),  # a late delivery, within the slack
        ("2026-10-10T00:00:00Z", None),
    ],
)
def test_a_line_of_a_day_folder_stamped_outside_its_day_is_a_reject_of_that_day(tmp_path, stamp, problem):
    line = hpa_patch("x", at(DAY, 9), 7)
    line["timestamp"] = stamp
    write_lines(tmp_path / f"dt={DAY.isoformat()}" / "gke-demo.jsonl", [line, hpa_patch("y", at(DAY, 9), 5)])
    day = read(tmp_path)
    if problem is None:
        assert len(day.events) == 2 and day.rejects == []
    else:
        (reject,) = day.rejects
        assert "is outside" in reject["reason"] and f"for the folder dt={DAY.isoformat()}" in reject["reason"]
        assert [row["audit_id"] for row in day.events] == ["y"]


@pytest.mark.parametrize("stamp", ["2026-10-11T09:00:00", "2026-10-11 09:00:00", "2026-10-11T09:00:00.123456789"])
def test_a_timestamp_with_no_zone_is_quarantined(tmp_path, stamp):
    with pytest.raises(EntryError, match="has no time zone"):
        parse_timestamp(stamp)
    zoneless = hpa_patch("z", at(DAY, 10), 8)
    zoneless["timestamp"] = stamp
    day = read(write_lines(tmp_path / "audit.jsonl", [hpa_patch("a", at(DAY, 9), 7), zoneless]))
    assert [row["audit_id"] for row in day.events] == ["a"]
    (reject,) = day.rejects
    assert reject["line_number"] == 2 and "has no time zone" in reject["reason"]


def test_an_event_with_a_zoneless_stage_timestamp_is_refused():
    event = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "verb": "patch",
        "objectRef": {"resource": "deployments", "namespace": "shop", "name": "api"},
        "stageTimestamp": "2026-10-11T09:00:00.000000",
    }
    with pytest.raises(EntryError, match="no time zone"):
        read_entry(event)


def test_a_repeated_id_with_other_content_is_a_reject_naming_the_first(tmp_path):
    first, second = hpa_patch("dup", at(DAY, 9), 7), hpa_patch("dup", at(DAY, 10), 3)
    day = read(write_lines(tmp_path / "audit.jsonl", [first, hpa_patch("b", at(DAY, 9), 6), second, first]))
    assert [(row["audit_id"], row["new_value"]) for row in day.events] == [("dup", 7), ("b", 6)]
    (reject,) = day.rejects
    assert reject["line_number"] == 3
    assert reject["reason"] == "entry id 'dup' repeats audit.jsonl line 1 with different content; the first stands"
    assert json.loads(reject["entry_json"]) == second
    assert day.skipped == {"duplicate entry (same id)": 1}  # the identical re-delivery (line 4)


def test_a_repeated_id_in_two_files_of_a_folder_names_the_other_file(tmp_path):
    folder = tmp_path / f"dt={DAY.isoformat()}"
    write_lines(folder / "a.jsonl", [hpa_patch("dup", at(DAY, 9), 7)])
    write_lines(folder / "b.jsonl", [hpa_patch("dup", at(DAY, 9), 2)])
    day = read(tmp_path)
    (reject,) = day.rejects
    assert reject["source"] == "b.jsonl" and "repeats a.jsonl line 1" in reject["reason"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [(-2, "a negative count"), (2.5, "not an integer"), (-0.5, "not an integer"), (1e300, "above 2147483647")],
)
def test_a_negative_or_fractional_value_is_a_reject(tmp_path, value, reason):
    day = read(
        write_lines(tmp_path / "audit.jsonl", [hpa_patch("a", at(DAY, 9), value), hpa_patch("b", at(DAY, 9), 4)])
    )
    assert [row["audit_id"] for row in day.events] == ["b"]
    assert reason in day.rejects[0]["reason"]


def test_a_negative_deployment_replicas_in_a_scale_response_is_a_reject():
    from replica_ledger.audit.writes import Quarantine, write_row
    from tooling import audit_entries as make

    line = make.log_entry(
        insert_id="s",
        at=datetime(2026, 10, 11, 9, tzinfo=UTC),
        cluster="gke-demo",
        resource="deployments",
        verb="patch",
        subresource="scale",
        namespace="shop",
        name="api",
        principal="dev@example.com",
        user_agent=make.KUBECTL_AGENT,
        response={"spec": {"replicas": -1}},
    )
    outcome = write_row(read_entry(line), ())
    assert outcome == Quarantine("spec.replicas in the response is -1, a negative count")

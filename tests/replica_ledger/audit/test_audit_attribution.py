"""Which edit crossed the limit of an hpa_max_over_limit episode (the report's "who")."""

from __future__ import annotations

from datetime import UTC, date, datetime

from replica_ledger.audit.attribution import who_crossed

EPISODE = {"cluster": "eu", "namespace": "shop", "deployment": "api", "started_on": date(2026, 10, 10)}
CAPTURED = datetime(2026, 10, 11, 0, 4)


def edit(hour: int, from_value, to_value, principal="dev@example.com", approved=4, day=10, **key):
    return {
        "cluster": key.get("cluster", "eu"),
        "namespace": "shop",
        "deployment": "api",
        "changed_at": datetime(2026, 10, day, hour),
        "principal": principal,
        "tool": "kubectl",
        "from_value": from_value,
        "to_value": to_value,
        "approved_max_replicas": approved,
    }


def test_the_crossing_edit_not_a_later_raise_above_the_limit():
    edits = [edit(9, 4, 6, "a@x"), edit(10, 6, 8, "b@x")]
    (row,) = who_crossed([{**EPISODE, "captured_at": CAPTURED}], edits)
    assert row == ("eu", "shop/api", date(2026, 10, 10), "a@x", "kubectl", "2026-10-10 09:00:00", "4 -> 6", 4)


def test_edits_after_the_snapshot_or_elsewhere_do_not_count():
    edits = [edit(1, 4, 6, "late@x", day=11), edit(9, 4, 6, "other@x", cluster="us"), edit(8, None, 5, "new@x")]
    (row,) = who_crossed([{**EPISODE, "captured_at": CAPTURED}], edits)
    assert row[3:7] == ("new@x", "kubectl", "2026-10-10 08:00:00", "? -> 5")


def test_an_aware_capture_time_and_no_capture_time_are_both_read():
    aware = {**EPISODE, "captured_at": CAPTURED.replace(tzinfo=UTC)}
    unknown = {**EPISODE, "captured_at": None}  # judged at the end of the day
    edits = [edit(23, 4, 6, "a@x")]
    assert [row[3] for row in who_crossed([aware, unknown], edits)] == ["a@x", "a@x"]


def test_no_audited_edit():
    (row,) = who_crossed([{**EPISODE, "captured_at": CAPTURED}], [edit(9, 4, 4), edit(10, 5, 6)])
    assert row[3:] == ("(no audited edit)", None, None, None, None)

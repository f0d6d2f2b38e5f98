"""The audit log through the product's day load into a real DuckDB file: replaced per day,
rejects kept, other days untouched, and no audit source = empty audit tables."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from replica_ledger import pipeline
from replica_ledger.settings import Settings
from replica_ledger.warehouse import duckdb as warehouse
from tooling import audit_entries as make

DAY = date(2026, 10, 14)


def hpa_patch(insert_id: str, hour: int, max_replicas: int, day: date = DAY) -> dict:
    return make.log_entry(
        insert_id=insert_id,
        at=datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
        cluster="gke-eu",
        resource="horizontalpodautoscalers",
        verb="patch",
        namespace="shop",
        name="api",
        principal="dev@example.com",
        user_agent=make.KUBECTL_AGENT,
        request={"spec": {"maxReplicas": max_replicas}},
    )


def write_log(path, lines) -> None:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))


@pytest.fixture
def settings(tmp_path) -> Settings:
    changes = tmp_path / "changes.jsonl"
    changes.write_text(
        json.dumps({"change_id": "c1", "namespace": "shop", "deployment": "api", "max_replicas": 4}) + "\n"
    )
    audit = tmp_path / "audit.jsonl"
    write_log(audit, [hpa_patch("a", 9, 7), hpa_patch("b", 10, 4), "{oops", hpa_patch("c", 9, 6, date(2026, 10, 15))])
    return replace(
        Settings(),
        archive_dir=tmp_path / "archive",
        ped_changes=changes,
        duckdb_path=tmp_path / "warehouse.duckdb",
        clusters=("gke-eu",),
        audit_log=audit,
    )


def audit_tables(settings: Settings) -> tuple[list[tuple], list[tuple]]:
    with warehouse.connect(settings.duckdb_path, read_only=True) as con:
        events = con.execute(
            "select snapshot_date, audit_id, deployment, field, new_value, tool, is_controller "
            "from raw.k8s_audit_events order by snapshot_date, changed_at"
        ).fetchall()
        rejects = con.execute("select snapshot_date, line_number, reason from raw.k8s_audit_rejects").fetchall()
    return events, rejects


def test_a_day_load_writes_the_audit_rows_and_a_reload_replaces_them(settings):
    first = pipeline.load_day(settings, DAY)
    assert first["audit"] == {"configured": True, "events": 2, "rejects": 1, "skipped": {}}
    once = audit_tables(settings)
    pipeline.load_day(settings, DAY)
    assert audit_tables(settings) == once
    events, rejects = once
    assert events == [
        (DAY, "a", "api", "max_replicas", 7, "kubectl", False),
        (DAY, "b", "api", "max_replicas", 4, "kubectl", False),
    ]
    assert [(day, line) for day, line, _ in rejects] == [(DAY, 3)]
    assert rejects[0][2].startswith("not JSON")


def test_other_days_are_untouched_and_a_changed_log_replaces_its_day(settings):
    pipeline.load_day(settings, DAY)
    pipeline.load_day(settings, date(2026, 10, 15))
    write_log(settings.audit_log, [hpa_patch("a", 9, 5), hpa_patch("c", 9, 6, date(2026, 10, 15))])
    pipeline.load_day(settings, DAY)
    events, rejects = audit_tables(settings)
    assert [(day, audit_id, value) for day, audit_id, _, _, value, _, _ in events] == [
        (DAY, "a", 5),
        (date(2026, 10, 15), "c", 6),
    ]
    assert rejects == []


def test_without_an_audit_source_the_day_loads_as_before_and_the_audit_tables_are_empty(settings):
    pipeline.load_day(settings, DAY)
    summary = pipeline.load_day(replace(settings, audit_log=None), DAY)
    assert summary["audit"] == {"configured": False}
    assert summary["clusters"] == {"gke-eu": "missing"}
    assert audit_tables(settings) == ([], [])

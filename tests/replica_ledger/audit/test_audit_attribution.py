"""The report's "who" row of an episode, from its first fct_breach_alerts row (the edit is
found in dbt, the same columns the Slack alert shows)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from replica_ledger.audit.attribution import NO_EDIT, NO_LIMIT, SOURCE_OFF, who_crossed_rows, who_row
from replica_ledger.settings import Settings
from replica_ledger.warehouse import open_warehouse
from replica_ledger.warehouse.duckdb import connect

EPISODE = {
    "cluster": "eu",
    "namespace": "shop",
    "deployment": "api",
    "breach_type": "hpa_max_over_limit",
    "episode_started_on": date(2026, 10, 10),
    "crossed_by": "dev@example.com",
    "crossed_with": "kubectl",
    "crossed_at": datetime(2026, 10, 10, 9, 0),
    "crossed_field": "max_replicas",
    "crossed_from_value": 4,
    "crossed_to_value": 6,
    "approved_max_replicas": 4,
    "ped_approved_at": None,
    "ped_approved_max_replicas": None,
}
NO_CROSSING = {**EPISODE, "crossed_by": None, "crossed_with": None, "crossed_at": None, "crossed_field": None}


def test_the_crossing_edit_is_worded_with_the_field_and_the_values():
    assert who_row(EPISODE) == (
        "eu", "shop/api", "hpa_max_over_limit", date(2026, 10, 10),
        "dev@example.com", "kubectl", "2026-10-10 09:00", "HPA max 4 -> 6", 4, None,
    )  # fmt: skip


def test_an_aware_time_an_unknown_value_before_and_a_same_day_approval():
    row = who_row(
        {
            **EPISODE,
            "breach_type": "replicas_over_limit",
            "crossed_at": datetime(2026, 10, 10, 9, 0, tzinfo=UTC),
            "crossed_field": "replicas",
            "crossed_from_value": None,
            "ped_approved_at": datetime(2026, 10, 10, 8, 50, tzinfo=UTC),
            "ped_approved_max_replicas": 5,
        }
    )
    assert row[6:] == ("2026-10-10 09:00", "replicas ? -> 6", 4, "max 5 at 08:50")


def test_no_audited_edit_no_limit_and_the_audit_source_off():
    assert who_row(NO_CROSSING)[4:] == (NO_EDIT, None, None, None, 4, None)
    assert who_row(NO_CROSSING, audit_source_on=False)[4] == SOURCE_OFF
    unregistered = {**NO_CROSSING, "breach_type": "unregistered_deployment", "approved_max_replicas": None}
    assert who_row(unregistered)[4:] == (NO_LIMIT, None, None, None, None, None)


def test_a_warehouse_without_the_attribution_columns_leaves_the_section_out(tmp_path):
    warehouse = open_warehouse(Settings(duckdb_path=tmp_path / "w.duckdb"))
    # No fct_breach_alerts at all (nothing built yet).
    assert who_crossed_rows(warehouse) is None
    # An fct_breach_alerts of an older build, before the attribution columns.
    with connect(tmp_path / "w.duckdb") as con:
        con.execute("create table fct_breach_alerts as select date '2026-10-10' as snapshot_date, 'eu' as cluster")
    assert who_crossed_rows(warehouse) is None
    # With them, every episode's first row is worded.
    columns = ", ".join(f"? as {name}" for name in EPISODE)
    with connect(tmp_path / "w.duckdb") as con:
        con.execute("drop table fct_breach_alerts")
        con.execute(
            f"create table fct_breach_alerts as select ? as snapshot_date, {columns}",
            [EPISODE["episode_started_on"], *EPISODE.values()],
        )
    assert who_crossed_rows(warehouse) == [who_row(EPISODE)]

"""The demo month with its audit log (demo/audit_log.jsonl), loaded and built for real on
DuckDB: the edits people and pipelines made, and the report's "who" for each
hpa_max_over_limit episode."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from replica_ledger import pipeline, warehouse
from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.report import render_report
from replica_ledger.settings import REPO_ROOT, Settings
from tooling.demo_data import DAYS_IN_DEMO_MONTH, DEMO_MONTH

DEMO = REPO_ROOT / "demo"


@pytest.fixture(scope="module")
def demo_month(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("audit-demo")
    settings = replace(
        Settings(),
        archive_dir=DEMO / "archive",
        ped_changes=DEMO / "ped_limit_changes.jsonl",
        audit_log=DEMO / "audit_log.jsonl",
        duckdb_path=root / "warehouse.duckdb",
    )
    for offset in range(DAYS_IN_DEMO_MONTH):
        pipeline.load_day(settings, DEMO_MONTH + timedelta(days=offset))
    command = ["build", "--exclude-resource-type", "unit_test", "--target-path", str(root / "target")]
    run_dbt(settings, [*command, "--vars", build_vars(settings)])
    return settings


def query(settings: Settings, sql: str) -> list[tuple]:
    with warehouse.connect(settings.duckdb_path) as con:
        return con.execute(sql).fetchall()


def test_the_demo_edits_are_the_people_with_the_value_before_and_the_approved_max(demo_month):
    rows = query(
        demo_month,
        "select changed_at, deployment, from_value, to_value, split_part(principal, '@', 1), tool, "
        "approved_max_replicas from main.fct_limit_edits order by changed_at",
    )
    assert rows == [
        (datetime(2026, 10, 8, 13, 5), "catalog-api", 4, 7, "lee.chen", "kubectl", 4),  # raised and reverted ...
        (datetime(2026, 10, 8, 13, 50), "catalog-api", 7, 4, "lee.chen", "kubectl", 4),  # ... within the hour
        (datetime(2026, 10, 10, 15, 20), "payments-api", 3, 6, "ana.lopez", "kubectl", 3),  # a day before PED
        (datetime(2026, 10, 14, 10, 12), "orders-api", 4, 8, "sam.ortiz", "kubectl", 4),
        (datetime(2026, 10, 27, 16, 40), "orders-api", 8, 4, "sam.ortiz", "kubectl", 4),
    ]


def test_ci_redeploys_and_controller_writes_are_audited_but_no_edits(demo_month):
    rows = query(
        demo_month,
        "select tool, count(*) from main.stg_audit__workload_writes group by tool order by tool",
    )
    assert rows == [("ci", 5), ("controller", 6), ("kubectl", 5)]


def test_the_metadata_only_entry_is_quarantined(demo_month):
    assert query(demo_month, "select snapshot_date, cluster, reason from main.stg_audit__rejects") == [
        (
            date(2026, 10, 9),
            "gke-demo-us",
            "a change of unknown size by ops-oncall@demo.example at 2026-10-09 11:30:00Z (no request or response body)",
        )
    ]


def test_the_report_says_who_crossed_the_limit(demo_month):
    report = render_report(demo_month)
    section = report.split("Who crossed the limit (hpa_max_over_limit episodes) (2)\n", 1)[1].split("\n\n", 1)[0]
    lines = [line.split() for line in section.splitlines()[2:]]
    assert lines == [
        ["gke-demo-eu", "payments/payments-api", "2026-10-10", "ana.lopez@demo.example", "kubectl", "2026-10-10",
         "15:20:00", "3", "->", "6", "3"],
        ["gke-demo-eu", "orders/orders-api", "2026-10-14", "sam.ortiz@demo.example", "kubectl", "2026-10-14",
         "10:12:00", "4", "->", "8", "4"],
    ]  # fmt: skip

"""The demo month with its audit log (demo/audit_log.jsonl), loaded and built for real on
DuckDB: the edits people and pipelines made, the report's "who" for every episode, the
catalog raise-and-revert only the audit log shows (intraday_over_limit), and the bill's
observed max from the intra-day peaks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from replica_ledger import pipeline
from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.report import render_report
from replica_ledger.settings import REPO_ROOT, Settings
from replica_ledger.warehouse import duckdb as warehouse
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


def test_the_report_says_who_crossed_the_limit_of_every_episode(demo_month):
    report = render_report(demo_month)
    section = report.split("Who crossed the limit (every episode, from the audit log) (5)\n", 1)[1].split("\n\n", 1)[0]
    lines = [line.split() for line in section.splitlines()[2:]]
    assert lines == [
        ["gke-demo-eu", "catalog/catalog-api", "intraday_over_limit", "2026-10-08", "lee.chen@demo.example",
         "kubectl", "2026-10-08", "13:05", "HPA", "max", "4", "->", "7", "4"],
        ["gke-demo-eu", "payments/payments-api", "hpa_max_over_limit", "2026-10-10", "ana.lopez@demo.example",
         "kubectl", "2026-10-10", "15:20", "HPA", "max", "3", "->", "6", "3"],
        ["gke-demo-eu", "orders/orders-api", "hpa_max_over_limit", "2026-10-14", "sam.ortiz@demo.example",
         "kubectl", "2026-10-14", "10:12", "HPA", "max", "4", "->", "8", "4"],
        ["gke-demo-eu", "orders/orders-api", "replicas_over_limit", "2026-10-16", "sam.ortiz@demo.example",
         "kubectl", "2026-10-14", "10:12", "HPA", "max", "4", "->", "8", "4"],
        ["gke-demo-eu", "sandbox/shadow-api", "unregistered_deployment", "2026-10-20", "(no", "limit", "to", "cross)"],
    ]  # fmt: skip


def test_the_raise_and_revert_on_catalog_is_one_intraday_episode_the_snapshots_miss(demo_month):
    episodes = query(
        demo_month,
        "select deployment, breach_type, started_on, ended_on, max_observed_value, last_approved_max_replicas"
        " from main.fct_breach_episodes where breach_type = 'intraday_over_limit'",
    )
    assert episodes == [("catalog-api", "intraday_over_limit", date(2026, 10, 8), date(2026, 10, 9), 7, 4)]
    snapshot = query(
        demo_month,
        "select hpa_max_replicas, spec_replicas from main.fct_deployment_daily"
        " where snapshot_date = '2026-10-08' and deployment = 'catalog-api'",
    )
    assert snapshot == [(4, 4)]  # the snapshot alone shows nothing
    peaks = query(
        demo_month,
        "select peak_hpa_max_replicas, peak_desired_replicas from main.int_deployments__intraday_peaks"
        " where snapshot_date = '2026-10-08' and deployment = 'catalog-api'",
    )
    assert peaks == [(7, 6)]  # Lee's raise to 7, and the controller's scale to 6 into it


def test_the_bill_shows_the_intraday_peak_as_observed_max(demo_month):
    rows = query(
        demo_month,
        "select deployment, billed_max_replicas, observed_max_replicas, unapproved_exposure_amount"
        " from main.mart_monthly_billing where deployment = 'catalog-api'",
    )
    # 1 vCPU, 2 GB: (19 + 38) x (7 - 4) / 4 = 42.75 more than the approved max 4.
    assert rows == [("catalog-api", 4, 7, Decimal("42.75"))]

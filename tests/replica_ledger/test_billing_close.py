"""Month close as a ledger, on DuckDB with the real dbt build (contract §5).

One API billed at 294 (2 vCPU, 4 GB, max 4) whose HPA shows max 6, and one at 236.525
-> 236.53 (0.2 vCPU, 1.5 GB, max 7). Snapshots on Oct 30 and Nov 2 only:

* the run for Oct 30 has no month to close;
* the Oct 31 and Nov 1 runs never happen: the run for Nov 2 closes October (version 1);
* re-running Nov 2 restates nothing;
* a late PED row (changed_at Oct 11) raises the API to max 6: the run for Nov 3 writes
  version 2 at 351 naming the change and supersedes version 1, nothing else changes;
* `dbt build --full-refresh` keeps the ledger.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from replica_ledger import pipeline
from replica_ledger.airflow import tasks
from replica_ledger.report import render_report
from replica_ledger.settings import load_settings
from replica_ledger.warehouse import duckdb as warehouse
from tests.support.payments_month import change, write_day

OCT30, NOV2, NOV3 = date(2026, 10, 30), date(2026, 11, 2), date(2026, 11, 3)
OCTOBER = date(2026, 10, 1)
CLOSE, SKIP = "billing.close_month", "billing.nothing_to_close"


@pytest.fixture
def ledger(tmp_path, worker_warehouse, monkeypatch):
    archive_dir, changes = tmp_path / "archive", tmp_path / "ped.jsonl"
    changes.write_text(
        change("ped-1", "checkout-api", max_replicas=4, cpu=2, memory_gb=4, changed_at="2026-09-01T00:00:00Z")
        + change("ped-2", "ledger-api", max_replicas=7, cpu=0.2, memory_gb=1.5, changed_at="2026-09-01T00:00:00Z")
    )
    for name, value in {
        "REPLICA_LEDGER_ARCHIVE_DIR": archive_dir,
        "REPLICA_LEDGER_PED_CHANGES": changes,
        "REPLICA_LEDGER_LOCAL_DIR": tmp_path,
        "REPLICA_LEDGER_DUCKDB": worker_warehouse,
        "REPLICA_LEDGER_SLACK_OUTBOX": tmp_path / "outbox",
        "REPLICA_LEDGER_STATEMENTS_DIR": tmp_path / "statements",
        "REPLICA_LEDGER_CLUSTERS": "gke-eu",
        "REPLICA_LEDGER_DBT_TARGET": "duckdb",
    }.items():
        monkeypatch.setenv(name, str(value))
    for day in (OCT30, NOV2, NOV3):
        write_day(archive_dir, day)
    return SimpleNamespace(
        changes=changes,
        warehouse=worker_warehouse,
        statements=tmp_path / "statements",
        outbox=tmp_path / "outbox",
    )


def context(day: date) -> dict:
    run_id = f"scheduled__{day.isoformat()}T00:00:00+00:00"
    return {
        "logical_date": datetime(day.year, day.month, day.day, tzinfo=UTC),
        "run_id": run_id,
        "dag_run": SimpleNamespace(run_type="scheduled", run_id=run_id),
    }


def run_day(day: date) -> tuple[str, dict | None]:
    """load, build, then the billing branch and (when chosen) the close, as the DAG does."""
    settings = load_settings()
    pipeline.load_day(settings, day)
    pipeline.build_day(settings, day)
    branch = tasks.choose_billing_branch(context(day), CLOSE, SKIP)
    return branch, tasks.close_billing_month(context(day)) if branch == CLOSE else None


def query(path, sql: str) -> list[tuple]:
    with warehouse.connect(path) as con:
        return con.execute(sql).fetchall()


def statements(path) -> list[tuple]:
    return query(
        path,
        "select deployment, statement_version, billed_max_replicas, amount, closed_at, superseded_at,"
        " restatement_reason from fct_billing_statements order by deployment, statement_version",
    )


def test_missed_month_end_late_ped_row_and_reruns(ledger):
    # Oct 30: no month has reached its last day yet, and the report says there is no bill.
    assert run_day(OCT30) == (SKIP, None)
    assert "Monthly bill per API: none yet (no month has been closed)" in render_report(load_settings())
    # The day's run summary says what billing will do: Nov 2 has October to close.
    settings = load_settings()
    pipeline.load_day(settings, NOV2)
    assert pipeline.build_day(settings, NOV2)["billing"]["months_to_close"] == ["2026-10-01"]

    # The Oct 31 and Nov 1 runs never happened: Nov 2 closes October.
    branch, notice = run_day(NOV2)
    assert branch == CLOSE
    assert (notice["months_closed"], notice["months_restated"]) == (["2026-10-01"], [])
    (october,) = notice["months"]
    assert october["total_amount"] == "530.53"
    # The bill table the demo prints shows the exposure and the version.
    report = render_report(load_settings())
    assert "observed max" in report and "exposure" in report
    # Every amount with two decimals and the currency (money.py).
    (bill,) = [line for line in report.splitlines() if "2026-10-01" in line and "payments/checkout-api" in line]
    assert "294.00 EUR" in bill and "57.00 EUR" in bill
    closed = statements(ledger.warehouse)
    assert [(row[0], row[1], row[2], row[3], row[5], row[6]) for row in closed] == [
        ("checkout-api", 1, 4, Decimal("294.00"), None, None),
        ("ledger-api", 1, 7, Decimal("236.53"), None, None),
    ]
    bill = query(
        ledger.warehouse,
        "select deployment, amount, observed_max_replicas, unapproved_exposure_amount, statement_version,"
        " typeof(amount) from mart_monthly_billing order by deployment",
    )
    assert bill == [
        ("checkout-api", Decimal("294.00"), 6, Decimal("57.00"), 1, "DECIMAL(18,2)"),
        ("ledger-api", Decimal("236.53"), 2, Decimal("0.00"), 1, "DECIMAL(18,2)"),
    ]

    # The payments team's statement, version 1, and one message on its route.
    v1 = ledger.statements / "2026-10" / "payments" / "v1"
    assert notice["statements"]["written"] == ["2026-10/payments/v1"]
    assert sorted(path.name for path in v1.iterdir()) == ["statement.csv", "statement.html", "statement.json"]
    assert "180 + (19 x 2 vCPU + 19 x 4 GB) x 4 / 4 = 294.00 EUR" in (v1 / "statement.html").read_text()
    v1_bytes = {path.name: path.read_bytes() for path in v1.iterdir()}
    (message,) = sorted(ledger.outbox.glob("statement__*.json"))
    assert message.name == "statement__2026-10__payments__v1__slack_payments_webhook_payments-alerts.json"
    assert "530.53 EUR" in message.read_text()

    # Re-running the same day restates nothing and changes no line.
    branch, notice = run_day(NOV2)
    assert (branch, notice["months_closed"], notice["months_restated"], notice["lines_written"]) == (
        CLOSE,
        [],
        [],
        0,
    )
    assert statements(ledger.warehouse) == closed
    # ... writes no statement, leaves version 1's files as they were, and posts nothing.
    assert (notice["statements"]["written"], notice["statements"]["already_written"]) == ([], ["2026-10/payments/v1"])
    assert {path.name: path.read_bytes() for path in v1.iterdir()} == v1_bytes
    assert notice["statements"]["announced"] == [
        "2026-10/payments/v1 slack_payments_webhook#payments-alerts: already_announced"
    ]

    # A late PED row raises checkout-api to max 6 from Oct 11: version 2 names it.
    with ledger.changes.open("a") as log:
        log.write(
            change("ped-late", "checkout-api", max_replicas=6, cpu=2, memory_gb=4, changed_at="2026-10-11T00:00:00Z")
        )
    branch, notice = run_day(NOV3)
    assert (notice["months_closed"], notice["months_restated"]) == ([], ["2026-10-01"])
    after = statements(ledger.warehouse)
    version_1, version_2, ledger_api = after
    assert version_1[:5] == closed[0][:5] and version_1[6] == closed[0][6]  # nothing else changed
    assert version_1[5] is not None  # superseded
    assert version_2[:4] == ("checkout-api", 2, 6, Decimal("351.00"))
    assert version_2[5] is None and "ped-late" in version_2[6]
    assert ledger_api == closed[1]  # unchanged line: never restated
    # The team's statement version 2 says why and what changed; version 1 stays as written.
    assert notice["statements"]["written"] == ["2026-10/payments/v2"]
    assert {path.name: path.read_bytes() for path in v1.iterdir()} == v1_bytes
    v2 = json.loads((ledger.statements / "2026-10" / "payments" / "v2" / "statement.json").read_text())
    assert (v2["team_version"], v2["total_amount"], v2["previous_version_total"]) == (2, "587.53", "530.53")
    (restated,) = [line for line in v2["lines"] if line["change_kind"] == "restated"]
    assert restated["deployment"] == "checkout-api" and "ped-late" in restated["restatement_reason"]
    assert restated["formula"] == "180 + (19 x 2 vCPU + 19 x 4 GB) x 6 / 4 = 351.00 EUR"
    restatement = ledger.outbox / "statement__2026-10__payments__v2__slack_payments_webhook_payments-alerts.txt"
    assert "restated" in restatement.read_text() and "ped-late" in restatement.read_text()
    assert query(
        ledger.warehouse,
        "select deployment, amount, statement_version, unapproved_exposure_amount from mart_monthly_billing"
        " order by deployment",
    ) == [
        ("checkout-api", Decimal("351.00"), 2, Decimal("0.00")),
        ("ledger-api", Decimal("236.53"), 1, Decimal("0.00")),
    ]

    # A full rebuild keeps the ledger (full_refresh: false).
    from replica_ledger.dbt_runner import build_vars, run_dbt

    settings = load_settings()
    run_dbt(
        settings,
        ["build", "--full-refresh", "--exclude-resource-type", "unit_test", "--vars", build_vars(settings)],
        window={"snapshot_date": NOV3.isoformat()},
    )
    assert statements(ledger.warehouse) == after


def test_a_month_with_no_rate_in_force_fails_the_close(ledger):
    """December 2019 is before the first billing_rates row (2020-01-01): closing it fails with
    the test's name and no statement is written; the day's build itself is unaffected."""
    from replica_ledger.dbt_runner import DbtFailed

    archive = ledger.changes.parent / "archive"
    ledger.changes.write_text(
        change("ped-old", "checkout-api", max_replicas=4, cpu=2, memory_gb=4, changed_at="2019-11-01T00:00:00Z")
    )
    for day in (date(2019, 12, 30), date(2020, 1, 2)):
        write_day(archive, day)
    settings = load_settings()
    for day in (date(2019, 12, 30), date(2020, 1, 2)):
        pipeline.load_day(settings, day)
    pipeline.build_day(settings, date(2020, 1, 2))
    assert tasks.choose_billing_branch(context(date(2020, 1, 2)), CLOSE, SKIP) == CLOSE
    with pytest.raises(DbtFailed, match="billing_month_without_rate_in_force"):
        tasks.close_billing_month(context(date(2020, 1, 2)))
    assert pipeline.closed_months(settings) == []


def run_results_ids() -> list[str]:
    """The nodes the last dbt call ran (run_results.json in this worker's dbt target folder)."""
    import os
    from pathlib import Path

    results = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    return [result["unique_id"] for result in results["results"]]


def test_by_default_the_days_build_runs_the_data_tests_of_its_models(ledger):
    """The default (REPLICA_LEDGER_DBT_DAILY_TESTS unset): the day's build tests what it
    built, and leaves the billing models' tests to the close."""
    settings = load_settings()
    pipeline.load_day(settings, OCT30)
    pipeline.build_day(settings, OCT30)
    tests = [node for node in run_results_ids() if node.startswith("test.")]
    assert any("fct_replica_breaches" in node for node in tests)
    billing_models = ("int_billing_lines", "fct_billing_statements", "mart_monthly_billing")
    assert not [node for node in tests if any(model in node for model in billing_models)]


def test_without_daily_tests_the_days_build_models_only_and_the_close_still_bills(ledger, monkeypatch):
    monkeypatch.setenv("REPLICA_LEDGER_DBT_DAILY_TESTS", "false")
    settings = load_settings()
    for day in (OCT30, NOV2):
        pipeline.load_day(settings, day)
        pipeline.build_day(settings, day)
    built = run_results_ids()
    assert any(node.startswith("model.replica_ledger.fct_replica_breaches") for node in built)
    assert not [node for node in built if node.startswith("test.")]
    # The close runs every data test once, then bills.
    notice = tasks.close_billing_month(context(NOV2))
    assert notice["months_closed"] == ["2026-10-01"]
    assert [row[:4] for row in statements(ledger.warehouse)] == [
        ("checkout-api", 1, 4, Decimal("294.00")),
        ("ledger-api", 1, 7, Decimal("236.53")),
    ]

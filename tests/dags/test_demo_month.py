"""The demo month, run through the real DAG with `dag.test()` on this interpreter's
Airflow (the same script `make demo` runs), then checked against the data contract.

On the Airflow 3 suite only, like the demo-gcp month that reads the same session fixture: a
month of `dag.test()` runs is minutes of the suite. On 2.11 the DAG runs through
`dag.test()` in the month story (a late file, a missed month end, a restatement), through
`airflow dags backfill`, and as the deployed Composer bundle (tests/tooling/test_deploy_rehearsal.py).

The demo story (tooling/demo_data.py) fixes what the month must yield:
the expectations below are the contract's semantics applied to that story.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.dags.conftest import RUN_DAYS
from tests.support.airflow_cli import AIRFLOW_MAJOR, REPO_ROOT, query, run_script, table_fingerprints

pytestmark = pytest.mark.skipif(AIRFLOW_MAJOR != 3, reason="the demo month runs on the Airflow 3 suite only (cost)")

OCTOBER = date(2026, 10, 1)


def rows(demo_month, sql: str, params: list | None = None) -> list[dict]:
    return query(demo_month.duckdb, sql, params)


def test_every_day_ran_through_airflow(demo_month):
    log = (demo_month.local / "run_days.log").read_text()
    for day in range(1, 32):
        assert f"[replica-ledger] 2026-10-{day:02d} success" in log


def test_monthly_bill_per_api(demo_month):
    bills = {
        row["deployment"]: (row["billed_max_replicas"], float(row["amount"]))
        for row in rows(demo_month, "select * from mart_monthly_billing where billing_month = ?", [OCTOBER])
    }
    assert bills == {
        "payments-api": (6, 351.0),  # raised from 3 to 6 on day 11: the highest version is billed
        "orders-api": (4, 294.0),  # the quarantined max-12 request is never billed
        "catalog-api": (4, 237.0),  # the conflicting duplicate asking for 8 is never billed
        "inventory-api": (4, 370.0),  # memory lowered 8 -> 4 GB on day 20: billed at 8 GB
        "legacy-api": (2, 199.0),  # deleted on day 15, still billed for October
        "search-api": (4, 294.0),
    }


def test_month_close_writes_version_1_and_the_exposure(demo_month):
    """The Oct 31 run closes October: one version-1 statement line per API, nothing superseded;
    the bill shows the exposure of limits raised outside PED."""
    statements = rows(
        demo_month,
        "select deployment, statement_version, amount, superseded_at, restatement_reason from fct_billing_statements",
    )
    assert sorted((row["deployment"], row["statement_version"]) for row in statements) == sorted(
        (deployment, 1)
        for deployment in ("payments-api", "orders-api", "catalog-api", "inventory-api", "legacy-api", "search-api")
    )
    assert all(row["superseded_at"] is None and row["restatement_reason"] is None for row in statements)
    exposure = {
        row["deployment"]: (row["observed_max_replicas"], str(row["unapproved_exposure_amount"]))
        for row in rows(demo_month, "select * from mart_monthly_billing where billing_month = ?", [OCTOBER])
    }
    assert exposure["orders-api"] == (8, "114.00")  # HPA max 8 by hand: 408 at 8 replicas - 294
    assert exposure["payments-api"] == (6, "0.00")  # raised to 6 through PED: billed at 6
    assert exposure["catalog-api"] == (7, "42.75")  # day 8 peak (audit log): 3 x (19 x 1 + 19 x 2) / 4 above max 4


def test_prorated_amount_weighs_days(demo_month):
    payments = rows(demo_month, "select * from mart_monthly_billing where deployment = 'payments-api'")[0]
    # Each day at the version in force at its end: days 1-10 at max 3 (180 + 114 x 3/4 =
    # 265.50) and days 11-31 at max 6 (351), over the month's 31 days.
    assert float(payments["prorated_amount"]) == pytest.approx((10 * 265.5 + 21 * 351) / 31, abs=0.01)


def test_limit_history_is_scd2(demo_month):
    versions = rows(
        demo_month,
        "select change_id, max_replicas, valid_from, valid_to, is_current from dim_replica_limits "
        "where deployment = 'payments-api' order by valid_from",
    )
    assert [(v["change_id"], v["max_replicas"], v["is_current"]) for v in versions] == [
        ("ped-0001", 3, False),
        ("ped-0002", 6, True),
    ]
    assert versions[0]["valid_to"] == versions[1]["valid_from"] == datetime(2026, 10, 11, 9, 30)
    assert versions[1]["valid_to"] is None
    legacy = rows(demo_month, "select valid_to, is_current from dim_replica_limits where deployment = 'legacy-api'")
    assert legacy == [{"valid_to": datetime(2026, 10, 15, 12, 0), "is_current": False}]  # the delete


def test_breach_episodes(demo_month):
    episodes = {
        (row["deployment"], row["breach_type"]): (row["started_on"].day, row["last_seen_on"].day, row["is_open"])
        for row in rows(demo_month, "select * from fct_breach_episodes")
    }
    assert episodes == {
        # catalog's HPA raised to 7 and put back within the hour on day 8: only the audit
        # log shows it (the snapshot is within the limit)
        ("catalog-api", "intraday_over_limit"): (8, 8, False),
        # day 10's snapshot sees the HPA already at 6 while PED still says 3
        ("payments-api", "hpa_max_over_limit"): (10, 10, False),
        # one episode from day 14 to 26 although day 23 has no snapshot
        ("orders-api", "hpa_max_over_limit"): (14, 26, False),
        ("orders-api", "replicas_over_limit"): (16, 18, False),
        ("shadow-api", "unregistered_deployment"): (20, 31, True),
    }


def test_new_episode_flag_only_on_first_day(demo_month):
    new = rows(
        demo_month,
        "select snapshot_date, deployment, breach_type from fct_replica_breaches where is_new_episode order by all",
    )
    assert [(row["snapshot_date"].day, row["deployment"], row["breach_type"]) for row in new] == [
        (8, "catalog-api", "intraday_over_limit"),
        (10, "payments-api", "hpa_max_over_limit"),
        (14, "orders-api", "hpa_max_over_limit"),
        (16, "orders-api", "replicas_over_limit"),
        (20, "shadow-api", "unregistered_deployment"),
    ]


def test_gaps_yield_no_rows(demo_month):
    gaps = rows(demo_month, "select snapshot_date, cluster, gap_reason from fct_snapshot_gaps order by all")
    assert [(g["snapshot_date"].day, g["cluster"], g["gap_reason"]) for g in gaps] == [
        (5, "gke-demo-us", "missing"),
        (23, "gke-demo-eu", "missing"),
    ]
    for table in ("fct_deployment_daily", "fct_replica_breaches"):
        inferred = rows(
            demo_month,
            f"select count(*) as n from {table} where (snapshot_date, cluster) in "
            "(select (snapshot_date, cluster) from fct_snapshot_gaps)",
        )
        assert inferred == [{"n": 0}], f"{table} has rows for a missing day"


def test_rollout_surge_is_not_a_breach(demo_month):
    day7 = rows(
        demo_month,
        "select spec_replicas, status_replicas, rollout_in_progress, approved_max_replicas from fct_deployment_daily "
        "where deployment = 'catalog-api' and snapshot_date = ?",
        [date(2026, 10, 7)],
    )[0]
    assert day7["rollout_in_progress"] is True
    assert day7["status_replicas"] > day7["approved_max_replicas"] >= day7["spec_replicas"]
    surge_day = "select * from fct_replica_breaches where deployment = 'catalog-api' and snapshot_date = ?"
    assert rows(demo_month, surge_day, [date(2026, 10, 7)]) == []


def test_out_of_scope_namespaces_are_excluded(demo_month):
    namespaces = {row["namespace"] for row in rows(demo_month, "select distinct namespace from fct_deployment_daily")}
    assert namespaces == {"payments", "orders", "catalog", "inventory", "legacy", "sandbox", "search"}


def test_bad_change_rows_are_quarantined_with_a_reason(demo_month):
    quarantined = rows(demo_month, "select change_id, quarantine_reason from fct_limit_change_quarantine order by all")
    reasons = {row["quarantine_reason"] for row in quarantined}
    assert {"malformed_json", "max_replicas_out_of_range", "unknown_action"} <= reasons
    assert all(row["quarantine_reason"] for row in quarantined)
    # Reconciliation: every line of the log is either used (a version) or quarantined,
    # or is an exact re-send of a used change.
    lines = [line for line in (REPO_ROOT / "demo" / "ped_limit_changes.jsonl").read_text().splitlines() if line]
    used = rows(demo_month, "select count(*) as n from dim_replica_limits")[0]["n"]
    deletes = sum(1 for line in lines if '"action": "delete"' in line)
    exact_resends = len(lines) - len(set(lines))
    assert len(lines) == used + deletes + len(quarantined) + exact_resends


def test_outbox_holds_one_readable_message_per_new_episode_day(demo_month):
    payloads = sorted(path for path in demo_month.outbox.glob("*.json") if not path.name.startswith("statement__"))
    texts = sorted(path for path in demo_month.outbox.glob("*.txt") if not path.name.startswith("statement__"))
    alerts = [path for path in payloads if not path.name.endswith("__limit-raises.json")]
    assert len(payloads) == len(texts) == 6 and len(alerts) == 5, [path.name for path in payloads]
    # The platform's notice of PED's one raise (payments-api, 3 -> 6 on October 11), priced by dbt.
    (notice,) = demo_month.outbox.glob("2026-10-11__*__limit-raises.txt")
    assert "payments/payments-api" in notice.read_text() and "approved max 3 → 6" in notice.read_text()
    assert "Adds 85.50 EUR a month to the bill: 265.50 EUR at max 3 → 351.00 EUR at max 6." in notice.read_text()
    everything = "\n".join(path.read_text() for path in texts)
    for deployment in ("catalog-api", "payments-api", "orders-api", "shadow-api"):
        assert deployment in everything
    # who crossed the limit, from the demo's audit log
    assert "Crossed by lee.chen@demo.example (kubectl) at 2026-10-08 13:05 UTC: HPA max 4 → 7." in everything
    assert "Crossed by ana.lopez@demo.example (kubectl) at 2026-10-10 15:20 UTC: HPA max 3 → 6." in everything
    for path in payloads:
        payload = json.loads(path.read_text())
        assert payload["blocks"] and len(payload["blocks"]) <= 50
        assert "hooks.slack.com" not in path.read_text()


def test_rerunning_a_day_changes_nothing(demo_month):
    before = table_fingerprints(demo_month.duckdb)
    outbox_before = sorted(path.name for path in demo_month.outbox.iterdir())
    run_script(
        RUN_DAYS.format(first="2026-10-14", last="2026-10-14"),
        demo_month.env,
        timeout=600,
        log=demo_month.local / "rerun.log",
    )
    assert table_fingerprints(demo_month.duckdb) == before
    assert sorted(path.name for path in demo_month.outbox.iterdir()) == outbox_before  # no second post


def test_full_dbt_build_with_unit_tests_passes_on_the_month(demo_month, tmp_path):
    """Every data test, generic test and unit test of the project, on the month's data."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_month.duckdb, warehouse)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "build",
            "--project-dir",
            "dbt_project",
            "--profiles-dir",
            "dbt_project",
            "--target-path",
            str(tmp_path / "target"),
            "--vars",
            '{"snapshot_date": "2026-10-31"}',
        ],
        cwd=REPO_ROOT,
        env={**demo_month.env, "REPLICA_LEDGER_DUCKDB": str(warehouse), "DBT_LOG_PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert "ERROR=0" in result.stdout and "WARN=0" in result.stdout


# --------------------------------------------------------------------------- statements

TEAMS = ("catalog", "inventory", "legacy", "orders", "payments", "search")


def test_october_statements_of_every_team_and_one_message_each(demo_month):
    """The close writes each team's statement, version 1, in contract §7's layout, and one
    message per team on its route, recorded once in statement_log."""
    october = demo_month.local / "statements" / "2026-10"
    assert sorted(path.name for path in october.iterdir()) == list(TEAMS)
    for team in TEAMS:
        assert sorted(path.name for path in (october / team / "v1").iterdir()) == [
            "statement.csv",
            "statement.html",
            "statement.json",
        ]
    payments = json.loads((october / "payments" / "v1" / "statement.json").read_text())
    (line,) = payments["lines"]
    assert (line["deployment"], line["amount"], line["currency"]) == ("payments-api", "351.00", "EUR")
    assert line["formula"] == "180 + (19 x 2 vCPU + 19 x 4 GB) x 6 / 4 = 351.00 EUR"
    (api,) = payments["apis"]
    assert [step[1] for step in api["chart"]["approved_max_steps"]] == [3, 6]
    assert api["chart"]["approved_max_steps"][1][0] == "2026-10-11 09:30 UTC"
    day_10 = api["chart"]["days"].index("2026-10-10")
    assert api["chart"]["hpa_max_replicas"][day_10] == 6 and api["chart"]["breach_days"] == ["2026-10-10"]
    messages = sorted(demo_month.outbox.glob("statement__2026-10__*.json"))
    assert [path.name.split("__")[2] for path in messages] == list(TEAMS)
    log = rows(demo_month, "select team, team_version, route, status from statement_log order by team")
    assert [(row["team"], row["team_version"], row["status"]) for row in log] == [(t, 1, "outbox") for t in TEAMS]


def test_docs_examples_are_what_the_demo_writes(demo_month):
    """docs/examples (make examples) against this run of the demo month: the statement and
    every Slack message, run ids and hosts aside. The PNG is only refreshed by the target."""
    from tooling.examples import EXAMPLES, collect

    expected = {
        path.relative_to(EXAMPLES).as_posix(): path.read_bytes()
        for path in EXAMPLES.rglob("*")
        if path.is_file() and path.suffix != ".png"
    }
    assert (EXAMPLES / "statement" / "statement.png").stat().st_size > 10_000
    actual = collect(demo_month.local)
    assert sorted(actual) == sorted(expected), "docs/examples lists other files than the demo writes: make examples"
    drifted = [name for name in sorted(actual) if actual[name] != expected[name]]
    assert not drifted, f"docs/examples drifted from the demo (run make examples): {drifted}"


def test_the_statement_in_chromium(demo_month):
    """Chromium opens the payments statement from disk: the amounts are the mart's, one
    figure per API with its title and alt text, and the approved max steps up on Oct 11."""
    import subprocess as sp

    from playwright.sync_api import sync_playwright

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        sp.run(["bash", str(REPO_ROOT / "scripts" / "install_chromium.sh")], check=True)
    html = demo_month.local / "statements" / "2026-10" / "payments" / "v1" / "statement.html"
    mart = rows(
        demo_month,
        "select namespace || '/' || deployment as api, amount from mart_monthly_billing"
        " where billing_month = ? and team = 'payments'",
        [OCTOBER],
    )
    artifacts = REPO_ROOT / ".local" / "test-results"
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport={"width": 900, "height": 1200})
            page.goto(html.resolve().as_uri())
            assert page.title() == "Replica statement: payments, October 2026, version 1"
            amounts = page.eval_on_selector_all(
                "span.amount", "spans => spans.map(s => [s.dataset.api, s.textContent])"
            )
            assert sorted(amounts) == sorted([row["api"], f"{row['amount']:.2f} EUR"] for row in mart)
            total = page.eval_on_selector("strong.total", "s => s.dataset.amount")
            assert total == f"{sum(row['amount'] for row in mart):.2f}"
            charts = page.eval_on_selector_all(
                "figure svg[role=img]",
                """svgs => svgs.map(svg => ({
                    label: svg.getAttribute('aria-label'),
                    title: svg.querySelector('title') && svg.querySelector('title').textContent,
                    box: svg.getBoundingClientRect().width,
                }))""",
            )
            assert len(charts) == len(mart)
            for chart in charts:
                assert chart["title"] and chart["label"].startswith(chart["title"]) and chart["box"] > 300
            # The approved max (the green step line): one vertical step, between the ticks of
            # day 10 and day 15, about a quarter of the way (Oct 11 09:30).
            step = page.evaluate(
                """() => {
                    const svg = document.querySelector('figure svg');
                    const tick = t => [...svg.querySelectorAll('text')].find(e => e.textContent.trim() === t)
                        .getBoundingClientRect().x;
                    const path = [...svg.querySelectorAll('path')]
                        .find(p => (p.getAttribute('style') || '').includes('#2ca02c'));
                    const points = path.getAttribute('d').match(/[-0-9.]+ [-0-9.]+/g)
                        .map(p => p.split(' ').map(Number));
                    const steps = points.slice(1).filter((p, i) => p[0] === points[i][0] && p[1] !== points[i][1]);
                    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
                    const left = svg.getBoundingClientRect().x;
                    return {steps: steps.map(p => left + p[0] * scale), ten: tick('10'), fifteen: tick('15')};
                }"""
            )
            (x,) = step["steps"]
            assert 0.1 < (x - step["ten"]) / (step["fifteen"] - step["ten"]) < 0.45
            page.screenshot(path=str(artifacts / "statement_payments_2026-10_v1.png"), full_page=True)
        finally:
            browser.close()
    assert (artifacts / "statement_payments_2026-10_v1.png").stat().st_size > 10_000

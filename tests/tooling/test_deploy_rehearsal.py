"""`make deploy-rehearsal` (tooling/deploy_rehearsal.py): the Composer deploy plan's bundle,
synced through fake-gcs-server into a /home/airflow/gcs layout, runs on the emulators.

- On Airflow 3 the bundle runs demo-gcp's whole month (`make demo-gcp DEPLOYED=1`,
  tests/dags/test_demo_gcp.py), and its marts, alert log and Slack posts are compared
  there with the checkout's daily DuckDB month: the same proof as the rehearsal's
  comparison with the checkout's days, over every run of a month instead of two days.
- On Airflow 2.11 the whole rehearsal runs here as a user types it, the bundle alone
  (`--no-compare`), for the month end (Oct 31) with a lookback over the whole month: the
  one run loads every day of October, closes it, bills the demo story and alerts, from the
  bucket.
- The comparison of two runs' folders (`differences`) is tested on its own.
- Removing one item of each kind from the plan (a file, an environment variable, a
  connection, a pool) fails the rehearsal's check of the deployed environment, naming it,
  before any day runs (Airflow 3 suite; 2.11 passes the same check above).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.airflow_cli import AIRFLOW_MAJOR, REPO_ROOT, local_env, run_script
from tooling import deploy_rehearsal as rehearsal
from tooling.demo_gcp import ALERT_LOG, MARTS, gcp_environment, running_services, stop_leftovers
from tooling.emulators import bigquery

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.skipif(not bigquery.is_installed(), reason="the BigQuery emulator venv: make .venv/bq/.installed"),
    pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud (the Firestore emulator) is not on PATH"),
    pytest.mark.timeout(2400),
]


MONTH_END = "2026-10-31"


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory) -> Iterator[SimpleNamespace]:
    if AIRFLOW_MAJOR == 3:
        pytest.skip("on Airflow 3 the deployed bundle runs demo-gcp's month: tests/dags/test_demo_gcp.py")
    local = tmp_path_factory.mktemp("deploy_rehearsal")
    work = local / "deploy-rehearsal"
    try:
        # A lookback over the month (an environment setting like any other: it reaches the run
        # through the plan): one run on the emulator loads and closes all of October.
        env = local_env(local, REPLICA_LEDGER_LOOKBACK_DAYS="30")
        command = f"bash scripts/deploy_rehearsal.sh --no-compare --days {MONTH_END}"
        run_script(command, env, timeout=2400, log=local / "rehearsal.log")
        yield SimpleNamespace(output=(local / "rehearsal.log").read_text(), work=work)
    finally:
        stop_leftovers(work)


def test_the_deployed_bundle_closes_the_month(rehearsed):
    assert "the deployed environment has every file, setting, connection and pool it needs" in rehearsed.output
    runs = [line for line in rehearsed.output.splitlines() if line.startswith("[replica-ledger] 2026-10-")]
    assert [line.split()[1:3] for line in runs] == [[MONTH_END, "success"]]
    # The run read the DAG from the synced bucket (and the check before it saw
    # replica_ledger imported from it), never from the checkout.
    deployed = (rehearsed.work / f"run_days-deployed-{MONTH_END}.log").read_text()
    assert f"Filling up the DagBag from {rehearsed.work / 'gcs' / 'dags'}" in deployed
    assert f"Filling up the DagBag from {REPO_ROOT / 'dags'}" not in deployed
    # The close billed the demo story; the alert log and Slack hold what was announced.
    bills = json.loads((rehearsed.work / "deployed" / "marts" / "mart_monthly_billing.json").read_text())
    assert {row["deployment"]: float(row["amount"]) for row in bills}["payments-api"] == 351.0
    assert json.loads((rehearsed.work / "deployed" / "marts" / f"{ALERT_LOG}.json").read_text())
    assert list((rehearsed.work / "deployed" / "slack").glob("*.json"))
    assert f"passed: the deployed bundle ran {MONTH_END} in" in rehearsed.output


def test_differences_name_the_mart_that_differs(tmp_path: Path):
    """The comparison itself: one changed amount, one missing Slack body, each named."""
    for side in ("a", "b"):
        (tmp_path / side / "marts").mkdir(parents=True)
        (tmp_path / side / "slack").mkdir()
        for mart in (*MARTS, ALERT_LOG):
            (tmp_path / side / "marts" / f"{mart}.json").write_text(json.dumps([{"amount": "1", "closed_at": side}]))
    (tmp_path / "a" / "slack" / "1.json").write_text('{"text": "x"}')
    assert rehearsal.differences(tmp_path / "a", tmp_path / "b") == [
        "Slack bodies: demo-gcp posted 1, the deployed bundle 0 (or their text differs)"
    ]
    (tmp_path / "b" / "slack" / "1.json").write_text('{"text": "x"}')
    (tmp_path / "b" / "marts" / "mart_monthly_billing.json").write_text(json.dumps([{"amount": "2"}]))
    found = rehearsal.differences(tmp_path / "a", tmp_path / "b")
    assert len(found) == 1 and found[0].startswith("mart_monthly_billing: 1 row(s) of demo-gcp missing, 1 extra")


# ----------------------------------------------------------------------------- one item less


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The emulators, the rehearsal's plan, and one freshly migrated metadata DB to copy."""
    if AIRFLOW_MAJOR == 2:
        # The check is the same code on both versions, and 2.11 passes it in the whole
        # rehearsal above: the cases that must fail it run on Airflow 3 only.
        pytest.skip("the check's failing cases run on the Airflow 3 suite")
    work = tmp_path_factory.mktemp("deploy_rehearsal_check")
    base = local_env(work)
    with running_services(work, work / "slack-received") as services:
        plan = rehearsal.rehearsal_plan(gcp_environment(services, base))
        env = rehearsal.bundle_environment(plan, services, work, base)
        rehearsal.migrate(env)
        yield SimpleNamespace(
            services=services, plan=plan, base=base, airflow_home=Path(env["AIRFLOW_HOME"]), work=work
        )


def _check(deployment, plan, case: str) -> None:
    """prepare_and_check of `plan` in its own folder, on a copy of the migrated DB (each case starts clean)."""
    work = deployment.work / f"case-{case}"
    shutil.copytree(deployment.airflow_home, work / "airflow")
    env = rehearsal.bundle_environment(plan, deployment.services, work, deployment.base)
    rehearsal.prepare_and_check(plan, deployment.services.gcs, work / "gcs", env, deployment.services.slack.base_url())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("dags/replica_ledger/alerts/slack.py", "file dags/replica_ledger/alerts/slack.py: imported by"),
        ("REPLICA_LEDGER_DBT_PROJECT_DIR", "variable REPLICA_LEDGER_DBT_PROJECT_DIR: no dbt project at"),
        ("slack_payments_webhook", "connection slack_payments_webhook: not defined"),
        ("replica_ledger_warehouse", "pool replica_ledger_warehouse: missing"),
    ],
    ids=["file", "variable", "connection", "pool"],
)
def test_one_item_less_fails_naming_it(deployment, name: str, message: str):
    """The whole plan passes the same check (test_the_deployed_bundle_runs_the_days_of_demo_gcp)."""
    smaller = deployment.plan.without(name)
    with pytest.raises(rehearsal.RehearsalFailed) as failed:
        _check(deployment, smaller, name.rsplit("/", 1)[-1])
    assert message in str(failed.value)
    # One item missing: one line names it (the check lists everything at once).
    assert str(failed.value).count(name) >= 1

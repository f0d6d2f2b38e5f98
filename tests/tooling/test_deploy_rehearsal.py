"""`make deploy-rehearsal` (tooling/deploy_rehearsal.py): the Composer deploy plan's bundle,
synced through fake-gcs-server into a /home/airflow/gcs layout, runs two days on the
emulators, on Airflow 2.11 and 3.x (marked `airflow`: both suites of `make test` run it).

- The whole rehearsal, as a user types it: the bundle's marts, alert log and Slack bodies
  for a normal day (Oct 11: the intra-day breach of the audit log) and the month end
  (Oct 31: the close) equal demo-gcp's same days. The comparison runs the checkout's days
  as well, on the emulators' Airflow (3, `make demo-gcp`'s); on 2.11 the bundle's two days
  run alone (`--no-compare`), and must succeed, bill and alert.
- Removing one item of each kind from the plan (a file, an environment variable, a
  connection, a pool) fails the rehearsal's check of the deployed environment, naming it,
  before any day runs.
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
from tooling.demo_gcp import ALERT_LOG, MARTS, running_services, stop_leftovers
from tooling.emulators import bigquery

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.skipif(not bigquery.is_installed(), reason="the BigQuery emulator venv: make .venv/bq/.installed"),
    pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud (the Firestore emulator) is not on PATH"),
    pytest.mark.timeout(2400),
]


# The checkout's days beside the bundle's: on one Airflow only (each day on the emulator is
# a minute of dbt jobs); the other version runs the bundle's days alone.
COMPARED = AIRFLOW_MAJOR == 3


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory) -> Iterator[SimpleNamespace]:
    local = tmp_path_factory.mktemp("deploy_rehearsal")
    work = local / "deploy-rehearsal"
    try:
        # One day of lookback instead of seven: each run loads and rebuilds two days, not
        # eight (an environment setting like any other: it reaches both runs through the plan).
        env = local_env(local, REPLICA_LEDGER_LOOKBACK_DAYS="1")
        command = "bash scripts/deploy_rehearsal.sh" + ("" if COMPARED else " --no-compare")
        run_script(command, env, timeout=2400, log=local / "rehearsal.log")
        yield SimpleNamespace(output=(local / "rehearsal.log").read_text(), work=work)
    finally:
        stop_leftovers(work)


def test_the_deployed_bundle_runs_the_days_of_demo_gcp(rehearsed):
    assert "the deployed environment has every file, setting, connection and pool it needs" in rehearsed.output
    runs = [line for line in rehearsed.output.splitlines() if line.startswith("[replica-ledger] 2026-10-")]
    sides = ("demo-gcp", "deployed") if COMPARED else ("deployed",)
    assert [line.split()[1:3] for line in runs] == [["2026-10-11", "success"], ["2026-10-31", "success"]] * len(sides)
    # The deployed runs read the DAG from the synced bucket (and the check before them saw
    # replica_ledger imported from it); demo-gcp's from the checkout.
    for day in ("2026-10-11", "2026-10-31"):
        deployed = (rehearsed.work / f"run_days-deployed-{day}.log").read_text()
        assert f"Filling up the DagBag from {rehearsed.work / 'gcs' / 'dags'}" in deployed
        if COMPARED:
            checkout = (rehearsed.work / f"run_days-demo-gcp-{day}.log").read_text()
            assert f"Filling up the DagBag from {REPO_ROOT / 'dags'}" in checkout
    # What was compared is not empty: the close billed, the alert log and Slack hold episodes.
    for side in sides:
        bills = json.loads((rehearsed.work / side / "marts" / "mart_monthly_billing.json").read_text())
        assert {row["deployment"]: float(row["amount"]) for row in bills}.get("payments-api"), side
        assert json.loads((rehearsed.work / side / "marts" / f"{ALERT_LOG}.json").read_text()), side
        assert list((rehearsed.work / side / "slack").glob("*.json")), side
    if COMPARED:
        assert "passed: the deployed bundle ran 2026-10-11, 2026-10-31 and equal to demo-gcp's" in rehearsed.output
        assert rehearsal.differences(rehearsed.work / "demo-gcp", rehearsed.work / "deployed") == []
    else:
        assert "passed: the deployed bundle ran 2026-10-11, 2026-10-31 in" in rehearsed.output


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
    work = tmp_path_factory.mktemp("deploy_rehearsal_check")
    base = local_env(work)
    with running_services(work, work / "slack-received") as services:
        plan, env, _ = rehearsal.deployment(services, work, base)
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

"""`make demo-gcp EVERY=7 DEPLOYED=1` (scripts/demo_gcp.sh --every 7 --deployed): the
production wiring over the demo month on local emulators, run from the Composer deploy
plan's bundle, compared with `make demo`'s DuckDB month (the session fixture `demo_month`,
one run a day, from the checkout).

The script itself runs, as a user types it, in a throw-away home: BigQuery emulator,
fake-gcs-server, Firestore emulator, the fake Kubernetes API and the Slack receiver are
started and stopped by it. The deploy plan's bucket is synced through fake-gcs-server into
a /home/airflow/gcs layout and checked (tooling/deploy_rehearsal.py); the DAG then runs
from that bucket, never from the checkout, on Oct 1, 8, 15, 22, 29 and 31, as if Composer
had been down in between: each run loads the days it missed through its lookback window
(7 days) and rebuilds their facts. It exports the marts and the alert log from BigQuery as
JSON before stopping the emulator; the marts must equal the DuckDB marts of the daily runs
row for row, and the alert log must name the same episodes (each announced once). So one
month proves both that the deployed bundle is the product and that a run every seven days
equals a run every day (tests/tooling/test_deploy_rehearsal.py runs `make deploy-rehearsal`
itself on Airflow 2.11).

So one demo month runs per session (the DuckDB one, daily), and the BigQuery month adds
six runs rather than a run a day (a BigQuery day is mostly its dbt build: each model is a
job on the emulator). The full build with the unit tests, and a rebuild over existing
tables, on one week, are in tests/dbt/test_bigquery_emulator.py.

Known difference, not compared: on BigQuery the PED change log is a typed table, so the
demo log's one line that is not JSON cannot be in it (the local demo quarantines it as
malformed_json); fct_limit_change_quarantine therefore has one row less.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.airflow_cli import AIRFLOW_MAJOR, local_env, query, run_script
from tooling.demo_gcp import ALERT_LOG, MARTS, RAISE_LOG, stop_leftovers
from tooling.emulators import bigquery

pytestmark = [
    pytest.mark.skipif(not bigquery.is_installed(), reason="the BigQuery emulator venv: make .venv/bq/.installed"),
    pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud (the Firestore emulator) is not on PATH"),
    # One month on the emulator costs many minutes: it runs once per `make test`, on the
    # Airflow of `make demo-gcp` (3). The DAG on 2.11 is covered by test_demo_month.py.
    pytest.mark.skipif(AIRFLOW_MAJOR != 3, reason="demo-gcp runs on the Airflow 3 suite only (cost)"),
    # The first test pays for both months (the session's DuckDB month, then this one).
    pytest.mark.timeout(3600),
]

# The runs of the DAG (scripts/run_days.py --every 7): the first day, every seventh, the last.
RUN_DAYS = ("2026-10-01", "2026-10-08", "2026-10-15", "2026-10-22", "2026-10-29", "2026-10-31")
# An episode's identity in alert_log (its primary key).
EPISODE_PER_ROUTE = ("route", "cluster", "namespace", "deployment", "breach_type", "episode_started_on")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_UTC_SUFFIX = "+00:00"


@pytest.fixture(scope="module")
def demo_gcp(tmp_path_factory) -> Iterator[SimpleNamespace]:
    local = tmp_path_factory.mktemp("demo_gcp")
    env = local_env(local)
    try:
        run_script("bash scripts/demo_gcp.sh --every 7 --deployed", env, timeout=3600, log=local / "demo_gcp.log")
        yield SimpleNamespace(
            local=local,
            output=(local / "demo_gcp.log").read_text(),
            marts=local / "demo-gcp" / "marts",
            slack=local / "slack-received",
        )
    finally:
        # A timeout kills the script without a chance to stop its emulators (own sessions).
        stop_leftovers(local / "demo-gcp")


def normalized(value):
    """One value as both warehouses can be compared: numbers as floats, times as naive UTC text.

    BigQuery's rows come back from JSON (TIMESTAMP with +00:00, NUMERIC as text); DuckDB's
    are Python values (naive UTC timestamps, Decimal).
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return round(float(value), 6)
    if isinstance(value, datetime | date):
        return str(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return round(float(value), 6)
    if isinstance(value, str) and value.endswith(_UTC_SUFFIX):
        return value.removesuffix(_UTC_SUFFIX)
    return value


# When a run closed a statement line: the wall clock of each run, so it differs between the
# two months by construction (everything else in the line must be equal).
RUN_TIME_COLUMNS = frozenset({"closed_at", "superseded_at"})


def canonical(rows: list[dict]) -> list[tuple]:
    return sorted(
        (
            tuple(sorted((name, normalized(value)) for name, value in row.items() if name not in RUN_TIME_COLUMNS))
            for row in rows
        ),
        key=repr,
    )


def bigquery_rows(demo_gcp, mart: str) -> list[dict]:
    return json.loads((demo_gcp.marts / f"{mart}.json").read_text())


@pytest.mark.parametrize("mart", MARTS)
def test_marts_equal_the_duckdb_demo_row_for_row(demo_gcp, demo_month, mart):
    duckdb_rows = query(demo_month.duckdb, f"select * from {mart}")
    assert duckdb_rows, f"{mart} is empty on DuckDB: nothing would be compared"
    assert canonical(bigquery_rows(demo_gcp, mart)) == canonical(duckdb_rows)


def test_payments_api_is_billed_351(demo_gcp):
    bills = {row["deployment"]: float(row["amount"]) for row in bigquery_rows(demo_gcp, "mart_monthly_billing")}
    assert bills["payments-api"] == 351.0
    # The report printed from BigQuery shows the same bill, in money's spelling: BigQuery's
    # NUMERIC hands 351.00 back as Decimal('351'), and the report still says 351.00 EUR.
    assert re.search(r"payments/payments-api\s+payments\s+6\s.*\s351\.00 EUR\s", demo_gcp.output)


def test_every_run_took_the_archive_only_branch_and_succeeded(demo_gcp):
    ran = re.findall(r"\[replica-ledger\] (\S+) (\S+) in", demo_gcp.output)
    assert ran == [(day, "success") for day in RUN_DAYS]


def test_the_runs_came_from_the_deployed_bucket_after_its_check(demo_gcp):
    assert "the deployed environment has every file, setting, connection and pool it needs" in demo_gcp.output
    deployed = demo_gcp.local / "demo-gcp" / "deployed"
    log = next((demo_gcp.local / "demo-gcp").glob("run_days-deployed-airflow*.log")).read_text()
    assert f"Filling up the DagBag from {deployed / 'gcs' / 'dags'}" in log
    assert (deployed / "gcs" / "dags" / "replica_ledger" / "__init__.py").is_file()


def test_the_month_close_ran_the_data_tests_on_bigquery(demo_gcp):
    """The days build models only (REPLICA_LEDGER_DBT_DAILY_TESTS=false); the close tests every
    model before it bills (steps/billing.build_billing): the data tests' one run on BigQuery."""
    log = next((demo_gcp.local / "demo-gcp").glob("run_days-*airflow*.log")).read_text()
    tested = [int(passed) for passed in re.findall(r"Done\. PASS=(\d+) WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=\1\b", log)]
    assert tested and max(tested) >= 100, tested


def test_each_run_loaded_the_days_it_missed(demo_gcp):
    log = next((demo_gcp.local / "demo-gcp").glob("run_days-*airflow*.log")).read_text()
    # The load's window lines (steps/load.py): "window D: DAY reloaded and rebuilt: never loaded, ..."
    missed = set(re.findall(r"window [0-9-]+: ([0-9-]+) reloaded and rebuilt: never loaded", log))
    october = {f"2026-10-{day:02d}" for day in range(1, 32)}
    assert missed == october - set(RUN_DAYS)


def test_alert_log_announces_the_episodes_of_the_daily_runs_once_each(demo_gcp, demo_month):
    daily = query(demo_month.duckdb, f"select {', '.join(EPISODE_PER_ROUTE)} from main.{ALERT_LOG}")
    weekly = bigquery_rows(demo_gcp, ALERT_LOG)
    assert daily, "the DuckDB month announced nothing: nothing would be compared"
    assert canonical([{name: row[name] for name in EPISODE_PER_ROUTE} for row in weekly]) == canonical(daily)
    assert {row["status"] for row in weekly} == {"sent"}


def is_statement(path: Path) -> bool:
    """A team statement's message (statements.notify): its header names the month's statement."""
    header = json.loads(path.read_text())["blocks"][0]["text"]["text"]
    return " statement" in header


def test_slack_received_block_kit_messages(demo_gcp):
    everything_received = sorted(demo_gcp.slack.glob("*.json"))
    bodies = [path for path in everything_received if not is_statement(path)]
    # One post per run and route with something to announce, and one per run that told the
    # platform route of a PED raise (limit_raise_log; not exported when no run opened it).
    runs_and_routes = {(row["snapshot_date"], row["route"]) for row in bigquery_rows(demo_gcp, ALERT_LOG)}
    raises = demo_gcp.marts / f"{RAISE_LOG}.json"
    raise_runs = (
        {(row["snapshot_date"], row["route"]) for row in json.loads(raises.read_text())} if raises.exists() else set()
    )
    assert len(bodies) == len(runs_and_routes) + len(raise_runs) > 0
    # One post per team statement version and route, recorded in BigQuery's statement_log.
    statements = [path for path in everything_received if is_statement(path)]
    log = bigquery_rows(demo_gcp, "statement_log") if (demo_gcp.marts / "statement_log.json").exists() else []
    assert len(statements) == len([row for row in log if row["status"] == "sent"])
    for path in bodies:
        payload = json.loads(path.read_text())
        assert payload["blocks"] and len(payload["blocks"]) <= 50
    everything = "\n".join(path.read_text() for path in bodies)
    for deployment in ("payments-api", "orders-api", "shadow-api", "catalog-api"):
        assert deployment in everything
    assert f"{len(everything_received)} message(s) received" in demo_gcp.output


def test_the_live_capture_and_the_firestore_sync_ran(demo_gcp):
    assert "live capture for" in demo_gcp.output and "gke-demo-eu.json.gz" in demo_gcp.output
    assert "summary: accepted=0 no-op=5 rejected=0" in demo_gcp.output


def processes_holding(folder: Path) -> list[int]:
    """Pids with an open file under `folder` (the emulators keep their log files open)."""
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            if any(str(os.readlink(fd)).startswith(str(folder)) for fd in fd_dir.iterdir()):
                pids.append(int(fd_dir.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_every_emulator_was_stopped(demo_gcp):
    assert "every emulator and local server is stopped" in demo_gcp.output
    assert processes_holding(demo_gcp.local / "demo-gcp" / "logs") == []

"""`make demo-gcp` (scripts/demo_gcp.sh): the production wiring over the demo month on local
emulators, compared with `make demo`'s DuckDB month (the session fixture `demo_month`).

The script itself runs, as a user types it, in a throw-away home: BigQuery emulator,
fake-gcs-server, Firestore emulator, the fake Kubernetes API and the Slack receiver are
started and stopped by it. It exports the marts from BigQuery as JSON before stopping the
emulator; those rows must equal the DuckDB marts row for row.

Known difference, not compared: on BigQuery the PED change log is a typed table, so the
demo log's one line that is not JSON cannot be in it (the local demo quarantines it as
malformed_json); fct_limit_change_quarantine therefore has one row less.

Cost (measured 2026-11-29 on the shared 2-core machine, Airflow 3.3.2): a day on the
emulator takes 27-85 s wall depending on the load (about 85% of it the day's `dbt build`:
some 100 data tests, each a job on the emulator; load_day 4-6 s; the rest 2-3 s), so the
month takes 15-40 min, well over a 6-minute budget; the DuckDB month of `demo_month`
took 348 s. The month is run whole on purpose (the marts are compared whole).
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
from tooling.demo_gcp import MARTS, stop_leftovers
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

_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_UTC_SUFFIX = "+00:00"


@pytest.fixture(scope="module")
def demo_gcp(tmp_path_factory) -> Iterator[SimpleNamespace]:
    local = tmp_path_factory.mktemp("demo_gcp")
    env = local_env(local)
    try:
        run_script("bash scripts/demo_gcp.sh", env, timeout=3600, log=local / "demo_gcp.log")
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
    # The report printed from BigQuery shows the same bill.
    assert re.search(r"payments/payments-api\s+payments\s+6\s.*\s351(\.0+)?\s", demo_gcp.output)


def test_every_day_took_the_archive_only_branch_and_succeeded(demo_gcp):
    for day in range(1, 32):
        assert f"[replica-ledger] 2026-10-{day:02d} success" in demo_gcp.output


def test_slack_received_block_kit_messages(demo_gcp, demo_month):
    bodies = sorted(demo_gcp.slack.glob("*.json"))
    # One post per message the DuckDB demo left in its outbox (no connection there).
    assert len(bodies) == len(list(demo_month.outbox.glob("*.json"))) > 0
    for path in bodies:
        payload = json.loads(path.read_text())
        assert payload["blocks"] and len(payload["blocks"]) <= 50
    everything = "\n".join(path.read_text() for path in bodies)
    for deployment in ("payments-api", "orders-api", "shadow-api"):
        assert deployment in everything
    assert f"{len(bodies)} message(s) received" in demo_gcp.output


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

"""The product's one clock (replica_ledger.clock) and the tests' clock (tests/conftest.py):
every "now" of the product follows the test's clock, including across midnight UTC, and a
suite that crosses midnight passes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from types import SimpleNamespace

import pytest

from replica_ledger import clock as product_clock
from replica_ledger.airflow.context import RunInfo, snapshot_day_of
from replica_ledger.alerts.ledger import utcnow
from replica_ledger.alerts.policy import should_post
from replica_ledger.collector.__main__ import main as collector_main
from replica_ledger.ped.record import build_change
from tests.support.collector_run import snapshot_date
from tooling.fake_kube_api import FakeKubeApi

REPO_ROOT = Path(__file__).resolve().parents[2]
D = date(2026, 12, 5)
BEFORE_MIDNIGHT = datetime(2026, 12, 5, 23, 50, tzinfo=UTC)
PAST_MIDNIGHT = timedelta(minutes=11)


def test_the_test_clock_is_what_the_product_reads(clock):
    clock.set(datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC))
    assert product_clock.today() == date(2031, 2, 3)
    assert abs(product_clock.now() - datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)) < timedelta(seconds=5)
    assert product_clock.now().tzinfo is UTC
    assert abs(utcnow() - datetime(2031, 2, 3, 4, 5, 6)) < timedelta(seconds=5)  # the alert ledger's naive UTC


def test_a_test_starts_at_noon_and_its_clock_advances(clock):
    assert clock.now().time().hour == 12  # no test straddles midnight unless it sets the clock
    first = product_clock.now()
    assert product_clock.now() >= first


def test_the_variable_starts_a_process_clock_and_is_refused_in_production(monkeypatch):
    environ = {product_clock.NOW_VAR: "2026-12-05T23:50:00Z"}
    assert product_clock.env_override(environ) == datetime(2026, 12, 5, 23, 50, tzinfo=UTC)
    assert product_clock.env_override({}) is None
    with pytest.raises(product_clock.ClockError, match="production runs on the real clock"):
        product_clock.env_override({**environ, "REPLICA_LEDGER_ENV": "gcp"})
    for bad in ("2026-12-05T23:50:00", "tomorrow"):
        with pytest.raises(product_clock.ClockError, match="REPLICA_LEDGER_NOW"):
            product_clock.parse_instant(bad)


def test_a_subprocess_takes_the_test_clock_from_the_variable(clock):
    clock.set(BEFORE_MIDNIGHT)
    code = "from replica_ledger import clock; print(clock.now().isoformat())"
    env = {**os.environ, **clock.env()}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    printed = datetime.fromisoformat(out.strip())
    assert BEFORE_MIDNIGHT <= printed < BEFORE_MIDNIGHT + timedelta(minutes=1)


def _run_context(day: date, run_type: str = "scheduled") -> dict:
    run_id = f"{run_type}__{day.isoformat()}T00:00:00+00:00"
    return {
        "logical_date": datetime(day.year, day.month, day.day, tzinfo=UTC),
        "run_id": run_id,
        "dag_run": SimpleNamespace(run_type=run_type, run_id=run_id),
    }


def test_the_run_rules_follow_the_clock_across_midnight(clock):
    """A run set up at 23:50 for the day that just closed (D-1): once the clock passes
    midnight, that day is two days old: no live capture any more, alerts still (age 2)."""
    clock.set(BEFORE_MIDNIGHT)
    day = clock.today() - timedelta(days=1)
    run = RunInfo.from_context(_run_context(day))
    assert run.is_current_day(tolerance_days=1)
    assert should_post(day, is_backfill=False, max_age_days=1)[0]

    clock.advance(PAST_MIDNIGHT)
    assert clock.today() == D + timedelta(days=1)
    assert not run.is_current_day(tolerance_days=1)  # D+1 captures D now, not D-1
    assert should_post(day, is_backfill=False, max_age_days=2)[0]
    assert not should_post(day, is_backfill=False, max_age_days=1)[0]
    # A manual Airflow 3 run without a logical date closes the day before its run_after (or now).
    assert snapshot_day_of({"logical_date": None, "dag_run": SimpleNamespace(run_after=None)}) == D
    # PED's default changed_at is the clock's.
    document = SimpleNamespace(
        namespace="ns", deployment="api", team="t", min_replicas=1, max_replicas=2, cpu=1, memory_gb=1,
        action="upsert", reason="r",
    )  # fmt: skip
    assert build_change(document, env={}).row["changed_at"].startswith("2026-12-06T00:01:")


def test_the_collector_captures_by_the_clock_across_midnight(clock, tmp_path, capsys):
    """The collector's window is the clock's: at 23:50 it captures D-1; the same --date
    after midnight is refused (it would label D+1's cluster as D-1), and the default is D."""
    clock.set(BEFORE_MIDNIGHT)
    before_midnight_day = snapshot_date()
    assert before_midnight_day == (D - timedelta(days=1)).isoformat()
    with FakeKubeApi(deployments=2) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig.yaml")
        argv = ["--cluster", "gke-test", "--output", str(tmp_path / "out"), "--kubeconfig", str(kubeconfig)]
        assert collector_main([*argv, "--date", before_midnight_day]) == 0, capsys.readouterr().err
        clock.advance(PAST_MIDNIGHT)  # past 00:00 UTC between setup and the next capture
        assert collector_main([*argv, "--date", before_midnight_day]) == 2
        assert "too far back" in capsys.readouterr().err
        assert collector_main(argv) == 0
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == [f"dt={D - timedelta(days=1)}", f"dt={D}"]


def test_a_suite_started_just_before_midnight_passes(clock):
    """The issue's failure: tests that computed today at import and ran after midnight. The
    collector and alert-branch tests that failed then, run with the suite's clock started two
    seconds before midnight UTC: the first tests run on D, the later ones on D+1, and all pass."""
    selected = [
        "tests/replica_ledger/collector/test_collector_cli.py::test_python_dash_m_runs_the_collector",
        "tests/replica_ledger/collector/test_collector_cli.py::test_gs_upload_refused_is_a_clear_failure_with_nothing_uploaded",
        "tests/replica_ledger/test_bad_inputs.py::test_the_collector_refuses_a_date_outside_its_capture_window",
        "tests/replica_ledger/airflow/test_tasks.py::test_alert_branch_is_silent_for_backfills_and_old_days_on_either_warehouse",
        "tests/replica_ledger/test_clock.py::test_a_test_starts_at_noon_and_its_clock_advances",
    ]
    start = datetime.combine(clock.today(), time(23, 59, 58), tzinfo=UTC)
    options = ["-q", "-p", "no:cacheprovider", f"--clock-start={start.isoformat()}"]
    started = monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *options, *selected],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "include"), str(REPO_ROOT)])},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "9 passed" in result.stdout  # five tests, two of them parametrized
    # The first test (a collector subprocess) alone outlasts the two seconds before midnight.
    assert monotonic() - started > 2

"""tooling/cadence.py: which days a run every N days takes, and the cadences refused before
any run, by scripts/run_days.py and by `make demo-gcp` (before its emulators start)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from tests.support.airflow_cli import REPO_ROOT
from tooling import demo_gcp
from tooling.cadence import cadence_error, run_days


def test_every_day_by_default():
    days = run_days(date(2026, 10, 1), date(2026, 10, 31))
    assert len(days) == 31 and days[0] == date(2026, 10, 1) and days[-1] == date(2026, 10, 31)


def test_every_seven_days_and_the_last_day_once():
    days = run_days(date(2026, 10, 1), date(2026, 10, 31), every=7)
    assert [day.day for day in days] == [1, 8, 15, 22, 29, 31]
    ending_on_a_run_day = run_days(date(2026, 10, 1), date(2026, 10, 29), every=7)
    assert [day.day for day in ending_on_a_run_day] == [1, 8, 15, 22, 29]


def test_a_cadence_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        run_days(date(2026, 10, 1), date(2026, 10, 31), every=0)
    assert cadence_error(0, 7) is not None


def test_runs_at_most_the_lookback_plus_one_day_apart_leave_no_day_unloaded():
    assert cadence_error(8, 7) is None and cadence_error(1, 0) is None
    assert cadence_error(9, 7) == "--every must be 1..8: a run loads the 7 days before it at most"
    assert cadence_error(2, 0) is not None  # no lookback: every day must run


def test_run_days_script_refuses_runs_further_apart_than_the_lookback_before_any_run(tmp_path):
    command = [sys.executable, "scripts/run_days.py", "2026-10-01", "2026-10-31", "--every", "9"]
    command += ["--dags-folder", str(tmp_path)]  # an empty folder: the refusal comes first
    env = {"PATH": "", "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'include'}", "REPLICA_LEDGER_LOOKBACK_DAYS": "7"}
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "--every must be 1..8: a run loads the 7 days before it at most" in result.stderr


def test_demo_gcp_refuses_a_cadence_the_lookback_cannot_fill_before_starting_anything(monkeypatch, capsys):
    monkeypatch.setenv("REPLICA_LEDGER_LOOKBACK_DAYS", "3")
    monkeypatch.setattr(demo_gcp, "running_services", pytest.fail)  # nothing may start
    with pytest.raises(SystemExit) as refused:
        demo_gcp.main(["--every", "5"])
    assert refused.value.code == 2
    assert "--every must be 1..4" in capsys.readouterr().err

"""A setting that cannot be used stops every command at once, in one or two lines, exit 2:
a malformed or out-of-range value, a mistyped REPLICA_LEDGER_* name (with the closest known
name), a warehouse folder that cannot be written, a clock override in production."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from replica_ledger import settings as names
from replica_ledger.command import settings_for_command
from replica_ledger.settings import (
    GcpSettingsError,
    SettingsError,
    known_variables,
    load_settings,
)

from .test_settings import GCP_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]
UNWRITABLE = "/proc/replica-ledger/warehouse.duckdb"  # not writable even for root


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        (names.LOOKBACK_DAYS_VAR, "abc", "REPLICA_LEDGER_LOOKBACK_DAYS='abc' is not an integer"),
        (names.ALERT_MAX_AGE_DAYS_VAR, "-1", "REPLICA_LEDGER_ALERT_MAX_AGE_DAYS=-1 is out of range"),
        (names.ALERT_MAX_AGE_DAYS_VAR, "2.5", "is not an integer"),
        (names.LOOKBACK_DAYS_VAR, "100000", "expected an integer from 0 to 366"),
        (names.ALERT_MAX_AGE_DAYS_VAR, "36501", "expected an integer from 0 to 36500"),
        (names.LIVE_TOLERANCE_DAYS_VAR, "-2", "is out of range"),
        (names.RETRIES_VAR, "-1", "is out of range"),
        (names.RETRIES_VAR, "1000", "is out of range"),
        (names.RETRY_DELAY_SECONDS_VAR, "-5", "is out of range"),
        (names.DEPLOY_GRACE_HOURS_VAR, "-1", "is out of range"),
    ],
)
def test_a_bad_number_is_refused_when_the_settings_load(variable, raw, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings({variable: raw})


@pytest.mark.parametrize(
    ("variable", "raw"),
    [(names.POD_TIMEOUT_SECONDS_VAR, "0"), (names.POD_STARTUP_TIMEOUT_SECONDS_VAR, "-1")],
)
def test_the_production_numbers_are_checked_too(variable, raw):
    with pytest.raises(GcpSettingsError, match="is out of range"):
        load_settings({**GCP_ENV, variable: raw})


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("REPLICA_LEDGER_LOOKBAK_DAYS", "REPLICA_LEDGER_LOOKBACK_DAYS"),
        ("REPLICA_LEDGER_ALERT_MAX_AGE_DAY", "REPLICA_LEDGER_ALERT_MAX_AGE_DAYS"),
        ("REPLICA_LEDGER_DUCK_DB", "REPLICA_LEDGER_DUCKDB"),
        ("REPLICA_LEDGER_PED_CPU_MAXX", "REPLICA_LEDGER_PED_CPU_MAX"),
    ],
)
def test_a_mistyped_name_is_an_error_naming_the_closest_known_name(typo, suggestion):
    with pytest.raises(SettingsError, match=re.escape(f"{typo} (did you mean {suggestion}?)")):
        load_settings({typo: "3"})


def test_every_unknown_name_is_listed_once_and_a_far_one_without_a_guess():
    with pytest.raises(SettingsError) as caught:
        load_settings({"REPLICA_LEDGER_ZZZ": "1", "REPLICA_LEDGER_LOOKBAK_DAYS": "1", "OTHER_TOOL_X": "1"})
    message = str(caught.value)
    assert message.startswith(
        "REPLICA_LEDGER_LOOKBAK_DAYS (did you mean REPLICA_LEDGER_LOOKBACK_DAYS?), REPLICA_LEDGER_ZZZ "
    )
    assert "are not replica-ledger settings" in message and "OTHER_TOOL_X" not in message


def _names_spelled_in(paths) -> set[str]:
    found = set()
    for path in paths:
        if path.is_file() and path.suffix not in {".pyc", ".duckdb"}:
            found |= set(re.findall(r"REPLICA_LEDGER_[A-Z0-9_]*[A-Z0-9]", path.read_text(errors="replace")))
    return found


def test_every_name_the_repository_sets_is_known():
    """The tooling, the tests, the images and the Makefile set names the DAG side does not read
    (the collector's, the PED CLI's, dbt's run window, the clock's): all must be known, or
    load_settings would refuse the environment they run in."""
    roots = ["scripts", "tooling", "docker", "dags", "include", "dbt_project", "tests"]
    paths = [REPO_ROOT / "Makefile", REPO_ROOT / "docker-compose.yaml"]
    for root in roots:
        paths += [p for p in (REPO_ROOT / root).rglob("*") if "fixtures" not in p.parts and "target" not in p.parts]
    spelled = _names_spelled_in(paths)
    # Names that tests spell on purpose as unknown, and prefixes.
    deliberate = {"REPLICA_LEDGER_CLUSTER", "REPLICA_LEDGER_ZZZ", "REPLICA_LEDGER_DUCK_DB", "REPLICA_LEDGER_DUMMY"}
    deliberate |= {name for name in spelled if re.search(r"LOOKBAK|MAXX|_DAY$|PAGE_SIZ$|_IMAG$", name)}
    prefixes = {"REPLICA_LEDGER_COLLECTOR", "REPLICA_LEDGER_PED"}
    assert sorted(spelled - deliberate - prefixes - known_variables()) == []


def test_an_unwritable_warehouse_folder_is_one_clear_line(capsys):
    with pytest.raises(SystemExit) as caught:
        settings_for_command({names.DUCKDB_VAR: UNWRITABLE}, warehouse=True)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: the warehouse {UNWRITABLE} (REPLICA_LEDGER_DUCKDB or REPLICA_LEDGER_LOCAL_DIR)")
    assert len(err.splitlines()) == 1


def test_a_warehouse_path_under_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit):
        settings_for_command({names.DUCKDB_VAR: str(tmp_path / "file" / "w.duckdb")}, warehouse=True)
    assert "is not a folder" in capsys.readouterr().err


def test_the_clock_override_is_refused_in_production():
    with pytest.raises(GcpSettingsError, match="REPLICA_LEDGER_NOW is set with REPLICA_LEDGER_ENV=gcp"):
        load_settings({**GCP_ENV, "REPLICA_LEDGER_NOW": "2026-01-01T00:00:00Z"})
    assert load_settings({"REPLICA_LEDGER_NOW": "2026-01-01T00:00:00Z"}).env == "local"


# --------------------------------------------------------------------------- every command

BAD_VALUE = {names.LOOKBACK_DAYS_VAR: "abc"}
COMMANDS = {
    "report": ["-m", "replica_ledger.report"],
    "docs": ["-m", "replica_ledger.docs"],
    "run_days": [str(REPO_ROOT / "scripts" / "run_days.py"), "2024-05-01", "2024-05-02", "--dags-folder", "dags"],
}


def _run(args: list[str], extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLICA_LEDGER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "include"), str(REPO_ROOT)])
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120, check=False
    )


def _assert_one_or_two_lines(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert 1 <= len(result.stderr.strip().splitlines()) <= 2, result.stderr
    for text in expected:
        assert text in result.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("extra_env", "expected"),
    [
        (BAD_VALUE, "REPLICA_LEDGER_LOOKBACK_DAYS='abc' is not an integer"),
        ({"REPLICA_LEDGER_LOOKBAK_DAYS": "3"}, "did you mean REPLICA_LEDGER_LOOKBACK_DAYS?"),
        ({names.ALERT_MAX_AGE_DAYS_VAR: "-1"}, "REPLICA_LEDGER_ALERT_MAX_AGE_DAYS=-1 is out of range"),
        ({names.DUCKDB_VAR: UNWRITABLE}, "cannot write in /proc"),
    ],
    ids=["bad-value", "typo", "range", "read-only"],
)
def test_each_command_says_what_is_wrong_and_exits_2(command, extra_env, expected):
    _assert_one_or_two_lines(_run(COMMANDS[command], extra_env), expected)


def test_the_ped_command_refuses_a_mistyped_bound(tmp_path):
    result = _run(
        [
            "-m",
            "replica_ledger.ped",
            "validate",
            str(REPO_ROOT / "tests/replica_ledger/ped/fixtures/good/quote-api.yaml"),
        ],
        {"REPLICA_LEDGER_PED_CPU_MAXX": "4"},
    )
    _assert_one_or_two_lines(result, "did you mean REPLICA_LEDGER_PED_CPU_MAX?")
    bad = _run(["-m", "replica_ledger.ped", "schema"], {"REPLICA_LEDGER_PED_CPU_MAX": "lots"})
    _assert_one_or_two_lines(bad, "REPLICA_LEDGER_PED_CPU_MAX: 'lots' is not a number")


@pytest.mark.parametrize(
    ("extra_env", "expected"),
    [
        ({"REPLICA_LEDGER_COLLECTOR_PAGE_SIZ": "10"}, "did you mean REPLICA_LEDGER_COLLECTOR_PAGE_SIZE?"),
        ({"REPLICA_LEDGER_COLLECTOR_PAGE_SIZE": "abc"}, "REPLICA_LEDGER_COLLECTOR_PAGE_SIZE='abc' is not a valid int"),
        ({"REPLICA_LEDGER_COLLECTOR_DEADLINE_SECONDS": "inf"}, "must be a finite number"),
        ({"REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT": "-1"}, "must be >= 0"),
    ],
    ids=["typo", "bad-value", "infinite", "range"],
)
def test_the_collector_command_says_what_is_wrong_and_exits_2(tmp_path, extra_env, expected):
    result = _run(["-m", "replica_ledger.collector", "--cluster", "c1", "--output", str(tmp_path)], extra_env)
    _assert_one_or_two_lines(result, expected)


def test_the_collector_knows_the_dags_settings_that_share_its_prefix():
    """The DAG's own REPLICA_LEDGER_COLLECTOR_* settings (image, kubeconfig Secret) are not
    typos to the collector: an in-process live capture inherits the worker's environment."""
    from replica_ledger.collector.errors import SettingsError as CollectorSettingsError
    from replica_ledger.collector.settings import DAG_VARIABLES, ENV_PREFIX, CollectorSettings

    assert set(DAG_VARIABLES) == {name for name in names.VARIABLES if name.startswith(ENV_PREFIX)}
    CollectorSettings.from_env(dict.fromkeys(DAG_VARIABLES, "x"))
    with pytest.raises(CollectorSettingsError, match="REPLICA_LEDGER_COLLECTOR_IMAG "):
        CollectorSettings.from_env({"REPLICA_LEDGER_COLLECTOR_IMAG": "x"})

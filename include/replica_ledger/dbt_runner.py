"""Run dbt in-process, against the project in dbt_project/.

In-process (dbtRunner) rather than a subprocess: one interpreter start per task instead
of two, and failures come back as structured results we can summarize.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import date

from replica_ledger import contract
from replica_ledger import settings as names
from replica_ledger.settings import RUN_WINDOW_ENV, Settings


class DbtFailed(RuntimeError):
    """dbt reported errors or failing tests; the message lists them."""


def dbt_environment(settings: Settings) -> dict[str, str]:
    """Environment for profiles.yml and the sources: the settings' values (absolute paths, so
    the cwd never matters). profiles.yml's `env_var` defaults are only for hand runs."""
    env = {
        names.DUCKDB_VAR: str(settings.duckdb_path),
        names.DBT_TARGET_VAR: settings.dbt_target,
        names.DBT_LOG_LEVEL_FILE_VAR: settings.dbt_log_level_file,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    from replica_ledger.warehouse import open_warehouse

    env.update(open_warehouse(settings).dbt_environment())
    return env


def build_vars(settings: Settings, **values) -> str:
    """``--vars`` for every dbt call: the contract's values, the configured scope, then ``values``.

    The same on every call (the run window travels as env vars), so dbt's partial parse holds.
    """
    payload: dict[str, object] = contract.dbt_vars()
    payload["excluded_namespaces"] = list(settings.excluded_namespaces)
    payload["deploy_grace_hours"] = settings.deploy_grace_hours
    payload.update({key: value for key, value in values.items() if value is not None})
    return json.dumps(payload, sort_keys=True)


def _failures(result) -> list[str]:
    failures = []
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", ""))
        if status.lower() in {"error", "fail", "runtime error"}:
            name = getattr(node_result.node, "unique_id", "?")
            failures.append(f"{name}: {status}: {(node_result.message or '').strip()[:500]}")
    return failures


def run_window_environment(window: dict[str, str | None] | None) -> dict[str, str]:
    """Every run-window variable, empty when not given: nothing is inherited from a previous call."""
    unknown = set(window or {}) - set(RUN_WINDOW_ENV)
    if unknown:
        raise ValueError(f"unknown run window keys: {sorted(unknown)}")
    return {name: (window or {}).get(key) or "" for key, name in RUN_WINDOW_ENV.items()}


def run_dbt(settings: Settings, command: Sequence[str], window: dict[str, str | None] | None = None) -> object:
    """Invoke `dbt <command>` for the run `window` (snapshot_date: an ISO date; lookback_days)
    and raise DbtFailed with the failing nodes if it fails."""
    from dbt.cli.main import dbtRunner  # heavy import: run time only

    os.environ.update(dbt_environment(settings))
    window_env = run_window_environment(window)
    saved = {name: os.environ.get(name) for name in window_env}
    os.environ.update(window_env)
    try:
        return _invoke(dbtRunner, settings, command)
    finally:
        # Restore, so a later dbt call in this process (a test, a shell) never sees this window.
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _invoke(dbt_runner, settings: Settings, command: Sequence[str]) -> object:
    project = str(settings.dbt_project_dir)
    args = [
        *command,
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target",
        settings.dbt_target,
    ]
    result = dbt_runner().invoke(args)
    if not result.success:
        detail = "\n".join(_failures(result)) or repr(result.exception)
        raise DbtFailed(f"dbt {' '.join(command[:1])} failed:\n{detail}")
    return result.result


def build_window(settings: Settings, day: date, lookback_days: int, *selection: str, command: str = "build") -> object:
    """`dbt <command>` of a selection for the run's window [day - lookback_days, day] (unit
    tests run in CI, not in the DAG).

    The window travels as environment variables (RUN_WINDOW_ENV), like the day: the --vars
    stay the same on every run, so dbt's partial parse holds.
    """
    return run_dbt(
        settings,
        [command, *selection, "--exclude-resource-type", "unit_test", "--vars", build_vars(settings)],
        window={"snapshot_date": day.isoformat(), "lookback_days": str(lookback_days)},
    )

"""Run dbt in-process, against the project in dbt_project/.

In-process (dbtRunner) rather than a subprocess: one interpreter start per task instead
of two, and failures come back as structured results we can summarize.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from replica_ledger.settings import Settings


class DbtFailed(RuntimeError):
    """dbt reported errors or failing tests; the message lists them."""


def dbt_environment(settings: Settings) -> dict[str, str]:
    """Environment for profiles.yml: absolute paths, so the cwd never matters."""
    return {
        "REPLICA_LEDGER_DUCKDB": str(settings.duckdb_path),
        "REPLICA_LEDGER_DBT_TARGET": settings.dbt_target,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


def build_vars(settings: Settings, **values) -> str:
    payload = {"excluded_namespaces": list(settings.excluded_namespaces)}
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


def run_dbt(settings: Settings, command: Sequence[str]) -> object:
    """Invoke `dbt <command>` and raise DbtFailed with the failing nodes if it fails."""
    from dbt.cli.main import dbtRunner  # heavy import: run time only

    os.environ.update(dbt_environment(settings))
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
    result = dbtRunner().invoke(args)
    if not result.success:
        detail = "\n".join(_failures(result)) or repr(result.exception)
        raise DbtFailed(f"dbt {' '.join(command[:1])} failed:\n{detail}")
    return result.result

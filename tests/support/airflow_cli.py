"""Run the repo's own Airflow scripts (scripts/*.sh) from tests, in a throw-away home.

The scripts are what `make demo` and `make backfill` run, so the tests exercise exactly
the commands a user types, on the Airflow version of the interpreter running pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from replica_ledger.airflow.compat import AIRFLOW_MAJOR

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent


def local_env(local_dir: Path, **overrides: str) -> dict[str, str]:
    """Environment for one isolated replica-ledger installation under `local_dir`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REPLICA_LEDGER_", "AIRFLOW__", "AIRFLOW_HOME", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }
    env.update(
        AIRFLOW_HOME=str(local_dir / f"airflow{AIRFLOW_MAJOR}"),
        REPLICA_LEDGER_LOCAL_DIR=str(local_dir),
        REPLICA_LEDGER_RETRIES="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def run_script(command: str, env: dict[str, str], timeout: float, log: Path) -> subprocess.CompletedProcess:
    """`source scripts/airflow_env.sh N && <command>` in the repo root; output kept in `log`."""
    script = f'source scripts/airflow_env.sh {AIRFLOW_MAJOR} && export PATH="{VENV}/bin:$PATH" && {command}'
    with log.open("w") as out:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        raise AssertionError(f"`{command}` failed ({result.returncode}); log tail:\n{log.read_text()[-6000:]}")
    return result


def table_fingerprints(duckdb_path: Path) -> dict[str, str]:
    """sha256 of every table's rows in a stable order, for "nothing changed" checks."""
    import duckdb

    fingerprints = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by all"
        ).fetchall()
        for schema, table in tables:
            rows = con.execute(f'select * from "{schema}"."{table}" order by all').fetchall()
            fingerprints[f"{schema}.{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return fingerprints


def query(duckdb_path: Path, sql: str, params: list | None = None) -> list[dict]:
    import duckdb

    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        cursor = con.execute(sql, params or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

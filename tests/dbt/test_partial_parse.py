"""A new day must not make dbt re-parse the project (macros/run_window.sql, ledger_window_env).

The DAG hands dbt the run window as environment variables. dbt re-parses every file that
read an env var whose value changed, so the window is read at parse time only where the
value is part of a model's config: the `partitions` of BigQuery's insert_overwrite (those
three models re-parse there; test_bigquery_compile.py checks their partitions). This
parses once for a day, then for the next day, and reads dbt's own account of what it
re-parsed from its debug log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = REPO_ROOT / "dbt_project"
CHANGED = re.compile(r"Partial parsing: updated file: replica_ledger://(\S+)")


def parse(work: Path, day: str) -> list[str]:
    """`dbt parse` for the run of `day` (the DAG's env vars); the files dbt re-parsed."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("REPLICA_LEDGER_", "DBT_"))}
    env.update(
        {
            "REPLICA_LEDGER_DBT_TARGET": "duckdb",
            "REPLICA_LEDGER_DUCKDB": str(work / "warehouse.duckdb"),
            "REPLICA_LEDGER_DBT_SNAPSHOT_DATE": day,
            "REPLICA_LEDGER_DBT_LOOKBACK_DAYS": "7",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    log_dir = work / f"logs-{day}"
    command = [
        str(Path(sys.executable).with_name("dbt")), "parse",
        "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(log_dir), "--log-level-file", "debug",
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return sorted(CHANGED.findall((log_dir / "dbt.log").read_text()))


def test_a_new_day_reparses_nothing_on_duckdb(tmp_path):
    parse(tmp_path, "2026-10-10")
    assert parse(tmp_path, "2026-10-11") == []

"""Runtime configuration, read from environment variables only.

Why env vars: Airflow parses DAG files often, and a `Variable.get` or a database call at
parse time costs a round trip each time. Env vars are free to read, are set per
Composer environment, and can be overridden per command (`make backfill`, tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from replica_ledger.contract import DEFAULT_EXCLUDED_NAMESPACES

REPO_ROOT = Path(__file__).resolve().parents[2]


def _path_from_env(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


def _csv_from_env(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _int_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Everything a task needs to know about where data lives and how to behave."""

    env: str = "local"  # "gcp" selects the production path (GCS archive, BigQuery)
    archive_dir: Path = REPO_ROOT / "demo" / "archive"
    ped_changes: Path = REPO_ROOT / "demo" / "ped_limit_changes.jsonl"
    duckdb_path: Path = REPO_ROOT / ".local" / "warehouse.duckdb"
    slack_outbox: Path = REPO_ROOT / ".local" / "outbox"
    dbt_project_dir: Path = REPO_ROOT / "dbt_project"
    dbt_target: str = "duckdb"
    dbt_docs_dir: Path = REPO_ROOT / ".local" / "dbt_docs"
    clusters: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = DEFAULT_EXCLUDED_NAMESPACES
    alert_max_age_days: int = 2
    live_snapshot_tolerance_days: int = 1
    kubeconfig: str | None = None


def load_settings() -> Settings:
    """Build Settings from the environment (cheap; safe to call at task run time)."""
    defaults = Settings()
    local_dir = _path_from_env("REPLICA_LEDGER_LOCAL_DIR", REPO_ROOT / ".local")
    return Settings(
        env=os.environ.get("REPLICA_LEDGER_ENV", "local"),
        archive_dir=_path_from_env("REPLICA_LEDGER_ARCHIVE_DIR", defaults.archive_dir),
        ped_changes=_path_from_env("REPLICA_LEDGER_PED_CHANGES", defaults.ped_changes),
        duckdb_path=_path_from_env("REPLICA_LEDGER_DUCKDB", local_dir / "warehouse.duckdb"),
        slack_outbox=_path_from_env("REPLICA_LEDGER_SLACK_OUTBOX", local_dir / "outbox"),
        dbt_project_dir=_path_from_env("REPLICA_LEDGER_DBT_PROJECT_DIR", defaults.dbt_project_dir),
        dbt_target=os.environ.get("REPLICA_LEDGER_DBT_TARGET", defaults.dbt_target),
        dbt_docs_dir=_path_from_env("REPLICA_LEDGER_DBT_DOCS_DIR", local_dir / "dbt_docs"),
        clusters=_csv_from_env("REPLICA_LEDGER_CLUSTERS", ()),
        excluded_namespaces=_csv_from_env("REPLICA_LEDGER_EXCLUDED_NAMESPACES", DEFAULT_EXCLUDED_NAMESPACES),
        alert_max_age_days=_int_from_env("REPLICA_LEDGER_ALERT_MAX_AGE_DAYS", 2),
        live_snapshot_tolerance_days=_int_from_env("REPLICA_LEDGER_LIVE_TOLERANCE_DAYS", 1),
        kubeconfig=os.environ.get("REPLICA_LEDGER_KUBECONFIG") or None,
    )

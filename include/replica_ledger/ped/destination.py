"""``--log DEST`` -> the change-log backend: a JSON Lines path, or ``bq://project.dataset.table``."""

from __future__ import annotations

from replica_ledger.ped.backend import ChangeLog
from replica_ledger.ped.jsonl import JsonlChangeLog


def open_log(dest: str, *, bigquery_client=None) -> ChangeLog:
    """``bq://project.dataset.table`` -> BigQuery; anything else is a JSON Lines path."""
    if dest.startswith("bq://"):
        from replica_ledger.ped.bigquery import BigQueryChangeLog  # google-cloud only when used

        return BigQueryChangeLog(dest, client=bigquery_client)
    if "://" in dest:
        raise ValueError(f"--log {dest!r}: unsupported scheme; use a file path or bq://project.dataset.table")
    return JsonlChangeLog(dest)

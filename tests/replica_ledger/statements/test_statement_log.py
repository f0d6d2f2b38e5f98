"""statement_log on both warehouses: a team statement version is announced at most once per
route, a backfill's versions are withheld for good, and the table is kept next to alert_log
(DuckDB file; BigQuery through the emulator, tooling/emulators/bigquery.py)."""

from __future__ import annotations

from datetime import date

import pytest

from replica_ledger.statements.ledger import StatementLog
from replica_ledger.warehouse.duckdb import DuckDBStatementLog
from tooling.emulators import bigquery as bq_emulator

OCTOBER = date(2026, 10, 1)
ROUTE = "slack_payments_webhook#payments-alerts"


def claim(ledger, version: int, *, run_id: str = "r1", status: str = "failed", route: str = ROUTE, team="payments"):
    return ledger.claim(
        route=route, month=OCTOBER, team=team, version=version, run_id=run_id, message_hash="h", status=status
    )


def check_once_per_version_and_route(ledger) -> None:
    assert isinstance(ledger, StatementLog)
    first = claim(ledger, 1)
    assert first is not None
    assert claim(ledger, 1, run_id="r2") is None  # held, whatever its status
    ledger.confirm(first, status="outbox")
    assert claim(ledger, 1, run_id="r3") is None
    assert claim(ledger, 1, route="slack_default_webhook") is not None  # another route
    # A version 2 claimed, then released because nothing was posted: claimable again.
    second = claim(ledger, 2)
    ledger.release(second)
    assert claim(ledger, 2, run_id="r4") is not None
    # A backfill withholds version 3 for good.
    assert claim(ledger, 3, status="withheld") is not None
    assert claim(ledger, 3, run_id="r5") is None
    records = {(r.route, r.team_version): (r.status, r.run_id) for r in ledger.records()}
    assert records == {
        (ROUTE, 1): ("outbox", "r1"),
        ("slack_default_webhook", 1): ("failed", "r1"),
        (ROUTE, 2): ("failed", "r4"),
        (ROUTE, 3): ("withheld", "r1"),
    }
    with pytest.raises(ValueError, match="status"):
        claim(ledger, 4, status="sent")


def test_duckdb_statement_log(tmp_path):
    ledger = DuckDBStatementLog(tmp_path / "warehouse.duckdb")
    check_once_per_version_and_route(ledger)
    assert len(DuckDBStatementLog(tmp_path / "warehouse.duckdb").records()) == 4  # kept, not recreated


@pytest.mark.skipif(not bq_emulator.is_installed(), reason="BigQuery emulator venv not installed")
def test_bigquery_statement_log(tmp_path):
    from replica_ledger.warehouse.bigquery import BigQueryStatementLog

    emulator = bq_emulator.start(data_dir=tmp_path / "data", log_path=tmp_path / "bigquery.log")
    try:
        client = emulator.client()
        client.create_dataset("statements", exists_ok=True)
        ledger = BigQueryStatementLog(client, "statements")
        check_once_per_version_and_route(ledger)
        assert len(BigQueryStatementLog(client, "statements").records()) == 4
    finally:
        emulator.stop()

"""The platform's notice of a PED raise, without a warehouse build: its wording (amounts as
the marts hand them back, with two decimals and the currency), hostile text from a PED
file, Slack's limits, and limit_raise_log on DuckDB (a change id is claimed once)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from replica_ledger.alerts.raises import raises_from_rows, render_raise_notice
from replica_ledger.alerts.routes import Route
from replica_ledger.warehouse.duckdb import DuckDBRaiseLog

from .test_alerts_render import block_texts, check_limits, slack_sdk_problems

DAY = date(2026, 10, 11)
ROUTE = Route("slack_default_webhook", "#platform")


def row(change_id="ped-042", namespace="payments", deployment="payments-api", team="payments", **money):
    return {
        "change_id": change_id,
        "namespace": namespace,
        "deployment": deployment,
        "team": team,
        "approved_at": datetime(2026, 10, 11, 9, 30),
        "old_max_replicas": 3,
        "new_max_replicas": 6,
        # BigQuery's NUMERIC drops trailing zeros on the way out.
        "old_monthly_charge": money.get("old", Decimal("265.5")),
        "new_monthly_charge": money.get("new", Decimal("351")),
        "added_monthly_charge": money.get("added", Decimal("85.5")),
    }


def notice(rows, **kw):
    fields = {"route": ROUTE, "snapshot_date": DAY, "run_id": "scheduled__2026-10-11", "dag_id": "replica_ledger_daily"}
    return render_raise_notice(raises_from_rows(rows), currency=kw.pop("currency", "EUR"), **fields, **kw)


def test_the_notice_says_the_api_the_old_and_new_max_and_what_it_adds_to_the_bill():
    msg = notice([row()], ped_url_template="https://ped.example/{namespace}/{deployment}")
    text = block_texts(msg.payload)
    assert "*payments/payments-api* (team payments): approved max *3 → 6*, from 2026-10-11 09:30 UTC" in text
    assert "Adds *85.50 EUR* a month to the bill: 265.50 EUR at max 3 → 351.00 EUR at max 6." in text
    assert "<https://ped.example/payments/payments-api|PED: payments/payments-api>" in text
    assert "(+85.50 EUR a month)" in msg.payload["text"]
    assert not slack_sdk_problems(msg.payload)


def test_hostile_text_from_a_ped_file_is_neutralised_and_many_raises_fit_one_message():
    hostile = row(change_id="<!channel> `x`", team="*ops* <!here>", namespace="a&b")
    rows = [hostile] + [row(change_id=f"ped-{n}", deployment=f"api-{n}") for n in range(80)]
    msg = notice(rows, currency="USD")
    raw = str(msg.payload)
    assert "<!channel>" not in raw and "<!here>" not in raw and "a&b" not in raw
    check_limits(msg.payload)
    assert not slack_sdk_problems(msg.payload)
    assert "more_ (too many for one Slack message)" in block_texts(msg.payload)
    assert "*81* PED limit raises" in raw


def test_the_duckdb_raise_log_claims_a_change_id_once(tmp_path):
    ledger = DuckDBRaiseLog(tmp_path / "warehouse.duckdb")
    (raise_,) = raises_from_rows([row()])
    first = ledger.claim(route=ROUTE.key, run_id="r1", snapshot_date=DAY, raises=[raise_], message_hash="h")
    second = ledger.claim(route=ROUTE.key, run_id="r2", snapshot_date=DAY, raises=[raise_], message_hash="h")
    assert first.won == {"ped-042"} and second.won == set() and second.held["ped-042"].run_id == "r1"
    ledger.confirm(first.token, status="outbox", message_hash="h")
    (record,) = ledger.records()
    assert (record.change_id, record.status, record.route) == ("ped-042", "outbox", "slack_default_webhook#platform")
    third = ledger.claim(route=ROUTE.key, run_id="r3", snapshot_date=DAY, raises=[raise_], message_hash="h")
    ledger.release(third.token)  # releases nothing of the first claim's
    assert ledger.find(ROUTE.key, ["ped-042"])["ped-042"].status == "outbox"

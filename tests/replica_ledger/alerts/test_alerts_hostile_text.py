"""Text from outside (a PED team, an audit principal or user agent, a cluster, a run id) is
neutralised before it reaches Slack: checked on the final Block Kit payload, top-level ``text``
included, as it would be posted."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime

import pytest

from replica_ledger.alerts import Crossing, Routes, render_messages
from replica_ledger.alerts.failure import failure_payload

from .factories import batch, ep
from .test_alerts_render import all_texts, slack_sdk_problems

# What for_slack shows instead of a formatting character (look-alikes mrkdwn ignores).
STAR, LOW, TILDE, GRAVE, SMALL_STAR = "\u2217", "\u02cd", "\u223c", "\u02cb", "\ufe61"
WIDE_STAR = "\uff0a"
PED_URL = "https://git.example/ped/-/tree/main/limits/{namespace}/{deployment}"
EDIT = Crossing(
    principal="ana@demo.example",
    tool="kubectl",
    changed_at=datetime(2024, 5, 2, 15, 20),
    field="max_replicas",
    from_value=3,
    to_value=6,
)


def payload_of(*episodes, **batch_fields) -> dict:
    (message,) = render_messages(replace(batch(episodes), **batch_fields), Routes())
    assert slack_sdk_problems(message.payload) == []
    return message.payload


def texts(payload: dict) -> list[str]:
    return all_texts(payload)


def attributed(**crossing_fields):
    return ep(breach_type="hpa_max_over_limit", observed=6, approved=3, crossing=replace(EDIT, **crossing_fields))


def test_a_channel_mention_as_team_never_notifies():
    payload = payload_of(ep(team="<!channel> ops"))
    raw = json.dumps(payload, ensure_ascii=False)
    assert "<!channel>" not in raw
    assert payload["text"].count("&lt;!channel&gt; ops") == 1
    assert all("<!" not in t for t in texts(payload))


@pytest.mark.parametrize(
    "team",
    ["<!here>", "<!everyone|x>", "<@U024BE7LH>", "<!subteam^S01|@sre>", "<https://evil.example|click here>"],
)
def test_no_special_sequence_survives_in_a_team(team):
    payload = payload_of(ep(team=team))
    for text in texts(payload):
        assert not re.search(r"<[!@#]", text)
        assert "<https://evil" not in text


def test_broadcast_words_without_brackets_are_broken():
    payload = payload_of(ep(team="@channel and @HERE"))
    for text in texts(payload):
        assert not re.search(r"@(channel|here)\b", text, re.IGNORECASE)
    assert "@\u2060channel and @\u2060HERE" in payload["text"]


def test_a_newline_in_a_principal_never_forges_a_line():
    payload = payload_of(attributed(principal="ana\n• *Fake breach* on prod\r\n• more"))
    for text in texts(payload):
        for line in text.split("\n"):
            assert not line.startswith("• *Fake"), line
            assert "*Fake breach*" not in line
    body = "\n".join(texts(payload))
    assert f"ana • {STAR}Fake breach{STAR} on prod • more" in body


@pytest.mark.parametrize(
    ("principal", "shown"),
    [
        ("*bold*", f"{STAR}bold{STAR}"),
        ("_it_", f"{LOW}it{LOW}"),
        ("~gone~", f"{TILDE}gone{TILDE}"),
        ("`code`", f"{GRAVE}code{GRAVE}"),
        (f"{WIDE_STAR}wide{WIDE_STAR}", f"{SMALL_STAR}wide{SMALL_STAR}"),
        ("svc_account_bot", "svc_account_bot"),  # inside a word an underscore formats nothing
    ],
)
def test_formatting_characters_from_a_principal_format_nothing(principal, shown):
    payload = payload_of(attributed(principal=principal, tool=principal))
    body = "\n".join(texts(payload))
    assert f"Crossed by *{shown}* ({shown})" in body


def test_a_backtick_in_a_cluster_cannot_close_its_code_span():
    payload = payload_of(ep(cluster="prod` *owned* `x"))
    body = "\n".join(texts(payload))
    assert f"on `prod{GRAVE} {STAR}owned{STAR} {GRAVE}x`" in body
    assert "*owned*" not in body


def test_terminal_escapes_and_control_characters_never_reach_slack():
    hostile = "kubectl\x1b[2J\x1b[31mred\x1b]0;title\x07\x00\x08\u202eevil\u200b"
    payload = payload_of(attributed(principal=hostile, tool=hostile), ep("b", team="t\x1b[1mx\tz"))
    raw = json.dumps(payload, ensure_ascii=False)
    for bad in ("\x1b", "\x07", "\x00", "\x08", "\u202e", "\u200b", "\t", "[2J", "[31m", "title"):
        assert bad not in raw, repr(bad)
    assert "kubectlredevil" in raw
    assert "tx z" in payload["text"]


def test_every_value_is_capped():
    long = "a" * 10_000
    payload = payload_of(ep(long, team="t" + long, namespace="n" + long, cluster="c" + long), run_id="r" + long)
    for text in texts(payload):
        assert "a" * 200 not in text
    assert len(payload["text"]) < 400
    assert "…" in payload["text"]


def test_a_name_in_the_ped_link_cannot_break_the_link():
    payload = payload_of(
        replace(attributed(), deployment="api>|<!channel>", namespace="ns a"),
        ped_url_template=PED_URL,
    )
    body = "\n".join(texts(payload))
    assert (
        "<https://git.example/ped/-/tree/main/limits/ns%20a/api%3E%7C%3C!channel%3E|PED: ns a/api&gt;|&lt;!channel&gt;>"
        in (body)
    )
    assert "<!channel>" not in body


def test_the_run_id_and_the_failure_message_are_neutralised():
    payload = payload_of(ep(), run_id="manual__<!channel>\n*x*")
    footer = payload["blocks"][-1]["elements"][0]["text"]
    assert "<!channel>" not in footer and "\n" not in footer
    failure = failure_payload(
        {"dag_id": "d", "task_id": "t", "error": "ValueError: <!channel> \x1b[31m*boom*", "logical_date": None}
    )
    text = failure["blocks"][0]["text"]["text"]
    assert "<!channel>" not in text and "\x1b" not in text and "*boom*" not in text

"""Who crossed the limit, in the alert: each hpa_max_over_limit and intraday_over_limit line
names the edit (principal, tool, time), says whether PED approved a change that day, and
says when the audit log is off; the API's PED page is on the episode's action line. No network."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from replica_ledger.alerts import Crossing, Routes, episodes_from_rows, render_messages, render_text
from replica_ledger.alerts.render import api_section_text

from .factories import batch, ep
from .test_alerts_render import check_limits, slack_sdk_problems

PED_URL = "https://git.example/ped/-/tree/main/limits/{namespace}/{deployment}"
ANA = Crossing(
    principal="ana.lopez@demo.example",
    tool="kubectl",
    changed_at=datetime(2024, 5, 2, 15, 20),
    field="max_replicas",
    from_value=3,
    to_value=6,
)


def section(episode, **batch_fields) -> str:
    return api_section_text(episode.api, [episode], replace(batch([episode]), **batch_fields))


def test_an_hpa_max_line_names_the_edit_the_day_and_the_ped_page():
    text = section(ep(breach_type="hpa_max_over_limit", observed=6, approved=3, crossing=ANA), ped_url_template=PED_URL)
    assert (
        "↳ Crossed by *ana.lopez@demo.example* (kubectl) at 2024-05-02 15:20 UTC: HPA max 3 → 6."
        " No PED change approved that day.\n"
    ) in text
    # The PED page is on the action line, once per episode.
    ped_link = "<https://git.example/ped/-/tree/main/limits/payments/checkout-api|PED: payments/checkout-api>"
    assert text.count(ped_link) == 1


@pytest.mark.parametrize(
    ("approved_at", "approved_max", "says"),
    [
        (datetime(2024, 5, 2, 15, 10), 6, "PED approved max 6 at 15:10, applied at 15:20: deploy lag, not a bypass."),
        (datetime(2024, 5, 2, 15, 10), 5, "PED approved max 5 at 15:10, below the 6 applied at 15:20."),
        (datetime(2024, 5, 2, 17, 5), 6, "Applied at 15:20, before PED approved max 6 at 17:05 the same day."),
    ],
)
def test_a_ped_approval_the_same_day_tells_a_deploy_lag_from_a_bypass(approved_at, approved_max, says):
    crossing = replace(ANA, ped_approved_at=approved_at, ped_approved_max_replicas=approved_max)
    assert says in section(ep(breach_type="hpa_max_over_limit", observed=6, approved=3, crossing=crossing))


def test_an_intraday_line_says_the_snapshot_was_within_the_limit_and_who_raised_it():
    lee = replace(
        ANA, principal="lee.chen@demo.example", changed_at=datetime(2024, 5, 3, 13, 5), from_value=4, to_value=7
    )
    text = section(ep(breach_type="intraday_over_limit", observed=7, approved=4, crossing=lee))
    assert "*Above the approved max between snapshots*" in text
    assert "the day's snapshot was within the limit, but the audit log shows a peak of 7 vs approved max 4 (+3)" in text
    assert "Crossed by *lee.chen@demo.example* (kubectl) at 2024-05-03 13:05 UTC: HPA max 4 → 7." in text


def test_without_an_audit_source_the_line_says_the_source_is_off():
    text = section(ep(breach_type="hpa_max_over_limit", observed=6, approved=3), audit_source_on=False)
    assert "Who: unknown, the audit log is off (no audit source configured)." in text
    assert "PED:" not in text  # no template, no link


def test_with_an_audit_source_but_no_crossing_edit_the_line_says_so():
    text = section(ep(breach_type="intraday_over_limit", observed=6, approved=3))
    assert "Who: no audited edit by a person or a pipeline took it above the limit." in text


@pytest.mark.parametrize("breach_type", ["replicas_over_limit", "unregistered_deployment"])
def test_other_breach_types_have_no_who_line(breach_type):
    approved = None if breach_type == "unregistered_deployment" else 4
    assert "↳" not in section(ep(breach_type=breach_type, approved=approved, crossing=ANA))


def test_rows_of_fct_breach_alerts_carry_the_crossing_as_naive_utc():
    row = {
        "cluster": "eu",
        "namespace": "payments",
        "deployment": "payments-api",
        "team": "payments",
        "breach_type": "hpa_max_over_limit",
        "observed_value": 6,
        "approved_max_replicas": 3,
        "started_on": date(2024, 5, 2),
        "status": "new",
        "crossed_by": "ana.lopez@demo.example",
        "crossed_with": "kubectl",
        "crossed_at": datetime(2024, 5, 2, 17, 20, tzinfo=UTC).astimezone(),  # BigQuery: aware
        "crossed_field": "max_replicas",
        "crossed_from_value": None,
        "crossed_to_value": 6,
        "ped_approved_at": None,
        "ped_approved_max_replicas": None,
    }
    (with_edit, without) = episodes_from_rows([row, {**row, "crossed_by": None, "crossed_at": None}])
    assert with_edit.crossing == Crossing(
        "ana.lopez@demo.example", "kubectl", datetime(2024, 5, 2, 17, 20), "max_replicas", None, 6
    )
    assert "HPA max ? → 6" in section(with_edit)
    assert without.crossing is None


def test_long_attributed_messages_stay_within_slacks_limits():
    """Every line grows by a "who" line with a link: sections are still fitted to 3,000
    characters and messages to 50 blocks, and slack_sdk accepts every one (the principal is
    capped, so six clusters make a section too long)."""
    long_edit = replace(ANA, principal="p" * 300 + "@example.com", tool="console")
    episodes = [
        ep(
            f"api-{i:03d}-" + "x" * 40,
            team=f"team-{i % 7}",
            breach_type=("hpa_max_over_limit", "intraday_over_limit")[i % 2],
            observed=8,
            approved=4,
            cluster=f"cluster-{c}",
            crossing=long_edit,
        )
        for i in range(90)
        for c in range(6)
    ]
    messages = render_messages(replace(batch(episodes), ped_url_template=PED_URL), Routes())
    assert messages
    for message in messages:
        check_limits(message.payload)
        assert slack_sdk_problems(message.payload) == []
    assert "more line(s) for this API" in render_text(messages[0].payload)

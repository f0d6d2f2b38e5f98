"""Delivery through the real SlackWebhookHook to a local HTTP server, ledger, outbox, retries."""

from __future__ import annotations

import functools
import json
from datetime import date

import pytest

from replica_ledger.airflow.slack import SLACK, post_to_slack, slack_connection_exists
from replica_ledger.alerts import (
    AlertDeliveryError,
    deliver,
    load_routes,
    render_messages,
    send_alerts,
)
from replica_ledger.alerts.deliver import Transport

from .conftest import SNAPSHOT_DAY, TODAY, Scripted, secrets_in
from .factories import batch, ep, mixed_batch

#: What a scheduled, manual or re-run of the current day passes to send_alerts.
CURRENT_RUN = dict(is_backfill=False, max_age_days=2)


@pytest.fixture
def routes(routes_csv):
    return load_routes(routes_csv)


def test_routes_to_two_team_webhooks_and_default(slack, routes, duckdb_ledger, tmp_path, all_logs):
    msgs = render_messages(mixed_batch(), routes)
    results = deliver(msgs, ledger=duckdb_ledger, transport=SLACK, outbox_dir=tmp_path / "outbox")
    assert sorted(r.status for r in results) == ["posted"] * 3
    for conn_id, team in [
        ("slack_payments_webhook", "payments"),
        ("slack_orders_webhook", "orders"),
        ("slack_default_webhook", "growth"),
    ]:
        (post,) = slack.posts(conn_id)
        expected = next(m for m in msgs if m.route.slack_conn_id == conn_id)
        assert post.body == expected.payload  # exactly the rendered payload: {"text", "blocks"}
        assert f"Team {team}" in json.dumps(post.body)
    assert len(slack.requests()) == 3
    assert not (tmp_path / "outbox").exists()
    # alert_log: one row per new episode per route, each with the hash of the message that carried it.
    recs = duckdb_ledger.records()
    assert [(r.route, r.deployment, r.breach_type, r.status) for r in recs] == [
        ("slack_default_webhook#platform-replica-ledger", "mystery", "replicas_over_limit", "sent"),
        ("slack_orders_webhook#orders-alerts", "cart-api", "replicas_over_limit", "sent"),
        ("slack_orders_webhook#orders-alerts", "shadow-svc", "unregistered_deployment", "sent"),
        ("slack_payments_webhook#payments-alerts", "checkout-api", "hpa_max_over_limit", "sent"),
        ("slack_payments_webhook#payments-alerts", "checkout-api", "replicas_over_limit", "sent"),
    ]
    hashes = {m.route.key: m.payload_sha256 for m in msgs}
    assert all(r.message_hash == hashes[r.route] and r.sent_at is not None for r in recs)
    assert secrets_in(all_logs.text) == []


def test_current_day_posts_once_even_when_retried(slack, routes, duckdb_ledger, tmp_path, all_logs):
    b = batch([ep("checkout-api")])
    kw = dict(routes=routes, ledger=duckdb_ledger, transport=SLACK, **CURRENT_RUN, today=TODAY, outbox_dir=tmp_path)
    first = send_alerts(b, **kw)
    assert first.allowed and [r.status for r in first.results] == ["posted"]
    # The task is retried: same run, rendered again, delivered again.
    second = send_alerts(batch([ep("checkout-api")]), **kw)
    assert [r.status for r in second.results] == ["already_sent"]
    assert len(slack.posts()) == 1
    assert len(slack.requests()) == 1
    # A different run (next day) posts again.
    nxt = batch([ep("other-api")], run_id="scheduled__2024-05-04T00:00:00+00:00", day=date(2024, 5, 4))
    send_alerts(nxt, **kw)
    assert len(slack.posts()) == 2
    assert secrets_in(all_logs.text) == []


def test_rerun_of_the_day_under_a_new_run_id_posts_only_what_is_new(slack, routes, duckdb_ledger, tmp_path):
    """Airflow 3 gives each manual run of a day its own id: the same message is not sent twice,
    a message that says something new is."""
    first_run, rerun = "manual__2024-05-04T00:10:00+00:00", "manual__2024-05-04T09:30:00+00:00"
    kw = dict(routes=routes, ledger=duckdb_ledger, transport=SLACK, **CURRENT_RUN, today=TODAY, outbox_dir=tmp_path)
    send_alerts(batch([ep("checkout-api")], run_id=first_run), **kw)
    again = send_alerts(batch([ep("checkout-api")], run_id=rerun), **kw)
    assert [r.status for r in again.results] == ["already_sent"]
    assert len(slack.posts()) == 1
    assert [r.run_id for r in duckdb_ledger.records()] == [first_run]  # the ledger is unchanged
    # A late snapshot file shows one more API: the re-run has something new to say.
    late = batch([ep("checkout-api"), ep("ledger-api")], run_id=rerun)
    assert [r.status for r in send_alerts(late, **kw).results] == ["posted"]
    assert len(slack.posts()) == 2 and "ledger-api" in json.dumps(slack.posts()[-1].body)


def test_backfill_posts_nothing(slack, routes, duckdb_ledger, tmp_path):
    report = send_alerts(
        mixed_batch(run_id="backfill__2024-05-03T00:00:00+00:00"),
        routes=routes,
        ledger=duckdb_ledger,
        transport=SLACK,
        is_backfill=True,
        max_age_days=2,
        today=TODAY,
        outbox_dir=tmp_path / "outbox",
    )
    assert not report.allowed and "backfill" in report.reason
    assert slack.requests() == []
    assert duckdb_ledger.records() == []
    assert not (tmp_path / "outbox").exists()


def test_old_day_posts_nothing(slack, routes, duckdb_ledger, tmp_path):
    report = send_alerts(
        mixed_batch(),
        routes=routes,
        ledger=duckdb_ledger,
        transport=SLACK,
        **CURRENT_RUN,
        today=date(2024, 5, 10),
        outbox_dir=tmp_path / "outbox",
    )
    assert not report.allowed and "7 days old" in report.reason
    assert slack.requests() == []
    assert duckdb_ledger.records() == []


def test_500_is_retried_without_duplicate(slack, routes, duckdb_ledger, tmp_path, all_logs):
    slack.queue(Scripted(500, body="internal_error"))
    (msg,) = render_messages(batch([ep()]), routes)
    (res,) = deliver([msg], ledger=duckdb_ledger, transport=SLACK, outbox_dir=tmp_path)
    assert res.status == "posted"
    reqs = slack.requests()
    assert [r.status for r in reqs] == [500, 200]
    assert reqs[0].body == reqs[1].body == msg.payload
    assert len(slack.posts()) == 1
    # The Airflow task retry finds it in the ledger.
    (again,) = deliver(
        render_messages(batch([ep()]), routes), ledger=duckdb_ledger, transport=SLACK, outbox_dir=tmp_path
    )
    assert again.status == "already_sent"
    assert len(slack.requests()) == 2
    assert secrets_in(all_logs.text) == []


def test_persistent_failure_releases_claim_and_task_retry_posts_once(slack, routes, duckdb_ledger, tmp_path, all_logs):
    # 4 x 503 with Retry-After 0: the hook's bounded retries (1 + 3) are exhausted.
    slack.queue(*[Scripted(503, {"Retry-After": "0"}, "unavailable")] * 4, conn_id="slack_payments_webhook")
    msgs = render_messages(mixed_batch(), routes)
    with pytest.raises(AlertDeliveryError) as info:
        deliver(msgs, ledger=duckdb_ledger, transport=SLACK, outbox_dir=tmp_path)
    by_route = {r.route: r.status for r in info.value.results}
    assert by_route["slack_payments_webhook#payments-alerts"] == "failed"
    assert by_route["slack_orders_webhook#orders-alerts"] == "posted"  # other routes still delivered
    assert duckdb_ledger.records("slack_payments_webhook#payments-alerts") == []  # released
    assert len(slack.posts("slack_payments_webhook")) == 0
    assert secrets_in(str(info.value)) == []
    # Airflow retries the task: only the failed route is posted, once.
    results = deliver(
        render_messages(mixed_batch(), routes), ledger=duckdb_ledger, transport=SLACK, outbox_dir=tmp_path
    )
    assert sorted(r.status for r in results) == ["already_sent", "already_sent", "posted"]
    for conn_id in ("slack_payments_webhook", "slack_orders_webhook", "slack_default_webhook"):
        assert len(slack.posts(conn_id)) == 1
    assert secrets_in(all_logs.text) == []


def test_429_retry_after_is_honoured(slack, routes, duckdb_ledger, tmp_path, all_logs):
    slack.queue(Scripted(429, {"Retry-After": "1"}, "rate_limited"))
    (msg,) = render_messages(batch([ep()]), routes)
    (res,) = deliver([msg], ledger=duckdb_ledger, transport=SLACK, outbox_dir=tmp_path)
    assert res.status == "posted"
    first, second = slack.requests()
    assert (first.status, second.status) == (429, 200)
    # Server-side clock: the retry did not come before Retry-After had passed (not a speed check).
    assert second.at - first.at >= 1.0 - 0.01
    assert len(slack.posts()) == 1
    assert "retrying in 1.0s" in all_logs.text
    assert secrets_in(all_logs.text) == []


def test_unknown_outcome_is_never_reposted(slack, routes, duckdb_ledger, tmp_path, all_logs):
    """Crash window: Slack got the post but we never saw the answer (timeout). No second post."""
    slack.queue(Scripted(200, delay=2.5))
    (msg,) = render_messages(batch([ep()]), routes)
    timeout_1s = Transport(slack_connection_exists, functools.partial(post_to_slack, timeout=1))
    with pytest.raises(AlertDeliveryError):
        deliver([msg], ledger=duckdb_ledger, outbox_dir=tmp_path, transport=timeout_1s)
    (rec,) = duckdb_ledger.records(msg.route.key)
    assert (rec.status, rec.sent_at) == ("failed", None)  # maybe posted: blocks any re-post
    (res,) = deliver(
        render_messages(batch([ep()]), routes), ledger=duckdb_ledger, outbox_dir=tmp_path, transport=timeout_1s
    )
    assert res.status == "unconfirmed"
    assert len(slack.requests()) == 1
    assert "never confirmed" in all_logs.text
    assert secrets_in(all_logs.text) == []


def test_outbox_mode_without_connection(no_slack_connections, routes, duckdb_ledger, tmp_path, all_logs):
    outbox = tmp_path / "outbox"
    msgs = render_messages(mixed_batch(), routes)
    results = deliver(msgs, ledger=duckdb_ledger, transport=SLACK, outbox_dir=outbox)
    assert [r.status for r in results] == ["outbox"] * 3
    names = sorted(p.name for p in outbox.iterdir())
    assert names == sorted(
        f"2024-05-03__scheduled__2024-05-03T00_00_00_00_00__{route}.{ext}"
        for route in (
            "slack_default_webhook_platform-replica-ledger",
            "slack_orders_webhook_orders-alerts",
            "slack_payments_webhook_payments-alerts",
        )
        for ext in ("json", "txt")
    )
    for m, r in zip(msgs, results, strict=True):
        assert json.loads(r.outbox_path.read_text()) == m.payload  # the exact payload
        txt = r.outbox_path.with_suffix(".txt").read_text()
        assert "Replica limit breaches 2024-05-03" in txt and m.route.key in txt
    pay_txt = next(p for p in outbox.glob("*payments*.txt")).read_text()
    assert "payments/checkout-api" in pay_txt and "Excess ≈ 57.00 EUR a month" in pay_txt
    # Retried: nothing rewritten, nothing new.
    again = deliver(render_messages(mixed_batch(), routes), ledger=duckdb_ledger, transport=SLACK, outbox_dir=outbox)
    assert [r.status for r in again] == ["already_sent"] * 3
    assert [r.status for r in duckdb_ledger.records()] == ["outbox"] * 5


def test_without_an_outbox_a_missing_connection_fails_and_claims_nothing(slack, routes, duckdb_ledger, monkeypatch):
    """Production (outbox_dir=None): the route fails naming its connection, the others post, and
    alert_log has no row for the failed route's episodes, so the first run with the connection posts them."""
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_ORDERS_WEBHOOK")
    with pytest.raises(AlertDeliveryError) as info:
        deliver(render_messages(mixed_batch(), routes), ledger=duckdb_ledger, transport=SLACK, outbox_dir=None)
    assert "'slack_orders_webhook'" in str(info.value) and "does not exist" in str(info.value)
    by_route = {r.route: r.status for r in info.value.results}
    assert by_route == {
        "slack_default_webhook#platform-replica-ledger": "posted",
        "slack_orders_webhook#orders-alerts": "failed",
        "slack_payments_webhook#payments-alerts": "posted",
    }
    assert duckdb_ledger.records("slack_orders_webhook#orders-alerts") == []
    assert slack.posts("slack_orders_webhook") == []
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_ORDERS_WEBHOOK", slack.conn_json("slack_orders_webhook"))
    again = deliver(render_messages(mixed_batch(), routes), ledger=duckdb_ledger, transport=SLACK, outbox_dir=None)
    assert sorted(r.status for r in again) == ["already_sent", "already_sent", "posted"]
    assert len(slack.posts("slack_orders_webhook")) == 1
    assert {r.status for r in duckdb_ledger.records("slack_orders_webhook#orders-alerts")} == {"sent"}


def test_mixed_connection_and_outbox_keep_secrets_out(slack, routes, duckdb_ledger, tmp_path, monkeypatch, all_logs):
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_ORDERS_WEBHOOK")
    outbox = tmp_path / "outbox"
    results = deliver(render_messages(mixed_batch(), routes), ledger=duckdb_ledger, transport=SLACK, outbox_dir=outbox)
    assert {r.route: r.status for r in results} == {
        "slack_default_webhook#platform-replica-ledger": "posted",
        "slack_orders_webhook#orders-alerts": "outbox",
        "slack_payments_webhook#payments-alerts": "posted",
    }
    for f in outbox.iterdir():
        text = f.read_text()
        assert secrets_in(text) == [] and "127.0.0.1" not in text
    assert secrets_in(all_logs.text) == []


def test_connection_without_token_fails_cleanly(slack, routes, duckdb_ledger, tmp_path, monkeypatch, all_logs):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_DEFAULT_WEBHOOK",
        json.dumps({"conn_type": "slackwebhook", "host": slack.base_url(), "password": ""}),
    )
    (msg,) = render_messages(batch([ep(team="growth")]), routes)
    with pytest.raises(AlertDeliveryError) as info:
        deliver([msg], ledger=duckdb_ledger, transport=SLACK, outbox_dir=tmp_path)
    assert info.value.results[0].status == "failed"
    assert duckdb_ledger.records() == []  # released: a fixed connection will post on retry
    assert slack.requests() == []


def test_payload_to_slack_respects_limits(slack, routes, duckdb_ledger, tmp_path):
    eps = [ep(f"api-{i:03d}") for i in range(80)]
    (msg,) = render_messages(batch(eps), routes)
    deliver([msg], ledger=duckdb_ledger, transport=SLACK, outbox_dir=tmp_path)
    (post,) = slack.posts("slack_payments_webhook")
    assert len(post.body["blocks"]) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in post.body["blocks"])
    assert SNAPSHOT_DAY.isoformat() in post.body["text"]

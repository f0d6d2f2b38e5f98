"""on_failure_callback: one short message via the provider's notifier, or the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from replica_ledger.airflow.failure import failure_fields, failure_notifier
from replica_ledger.alerts import failure_payload

from .conftest import Scripted, secrets_in

LOG_URL = "http://localhost:8080/dags/replica_ledger_daily/runs/scheduled__2024-05-03/tasks/build_models?try_number=2"
LOGICAL = datetime(2024, 5, 3, tzinfo=UTC)


def af2_context():
    """Shape of an Airflow 2.11 failure context (the parts we read)."""
    ti = SimpleNamespace(
        dag_id="replica_ledger_daily",
        task_id="build_models",
        run_id="scheduled__2024-05-03T00:00:00+00:00",
        try_number=2,
        log_url=LOG_URL,
        execution_date=LOGICAL,
    )
    return {
        "ti": ti,
        "task_instance": ti,
        "dag": SimpleNamespace(dag_id="replica_ledger_daily"),
        "dag_run": SimpleNamespace(
            run_type="scheduled", run_id=ti.run_id, execution_date=LOGICAL, logical_date=LOGICAL
        ),
        "logical_date": LOGICAL,
        "execution_date": LOGICAL,
        "exception": RuntimeError("dbt failed: {{ not a template }}\nsecond line"),
    }


def af3_context(logical=LOGICAL):
    """Shape of an Airflow 3.x failure context: RuntimeTaskInstance, no execution_date."""
    ti = SimpleNamespace(
        dag_id="replica_ledger_daily",
        task_id="build_models",
        run_id="manual__2024-05-03T00:00:00+00:00",
        try_number=1,
        log_url=LOG_URL,
    )
    return {
        "ti": ti,
        "task_instance": ti,
        "dag_run": SimpleNamespace(run_type="manual", run_id=ti.run_id, logical_date=logical),
        "logical_date": logical,
        "exception": ValueError("boom"),
    }


@pytest.mark.parametrize("make_context", [af2_context, af3_context])
def test_failure_callback_posts_one_short_message(slack, all_logs, make_context, tmp_path):
    callback = failure_notifier("slack_default_webhook", outbox_dir=tmp_path)
    callback(make_context())
    (post,) = slack.posts("slack_default_webhook")
    assert len(slack.requests()) == 1
    body = json.dumps(post.body)
    for needle in ("replica_ledger_daily", "build_models", "2024-05-03T00:00:00+00:00", LOG_URL):
        assert needle in post.body["text"]
        assert needle in body
    assert len(post.body["blocks"]) == 1 and len(post.body["blocks"][0]["text"]["text"]) < 800
    assert list(tmp_path.iterdir()) == []
    assert secrets_in(all_logs.text) == []
    assert "Slack failure notification sent" in all_logs.text


def test_failure_message_keeps_braces_literal(slack, tmp_path):
    failure_notifier(outbox_dir=tmp_path)(af2_context())
    (post,) = slack.posts()
    assert "RuntimeError: dbt failed: {{ not a template }}" in post.body["blocks"][0]["text"]["text"]
    assert "second line" not in json.dumps(post.body)


def test_failure_callback_without_connection_writes_outbox(no_slack_connections, tmp_path, all_logs):
    failure_notifier("slack_default_webhook", outbox_dir=tmp_path)(af3_context())
    (js,) = tmp_path.glob("*.json")
    (txt,) = tmp_path.glob("*.txt")
    assert (
        js.name
        == "2024-05-03__manual__2024-05-03T00_00_00_00_00__failure__replica_ledger_daily.build_models__try1.json"
    )
    payload = json.loads(js.read_text())
    assert set(payload) == {"text", "blocks"}
    assert "build_models" in txt.read_text() and LOG_URL in txt.read_text()


def test_failure_callback_never_raises(slack, all_logs, tmp_path):
    slack.queue(*[Scripted(500, body="nope")] * 5)
    failure_notifier(outbox_dir=tmp_path)(af2_context())  # does not raise
    assert "Failure notification not sent" in all_logs.text
    assert slack.posts() == []
    assert secrets_in(all_logs.text) == []


def test_failure_fields_without_logical_date():
    fields = failure_fields(af3_context(logical=None))
    assert fields["logical_date"] is None
    assert (fields["dag_id"], fields["task_id"], fields["try_number"]) == ("replica_ledger_daily", "build_models", 1)


class _NoLogUrl(SimpleNamespace):
    """An Airflow 2.11 task instance whose log URL needs a webserver config that is absent."""

    @property
    def log_url(self):
        raise RuntimeError("no [webserver] base_url")


def test_failure_fields_when_the_log_url_cannot_be_built():
    context = af2_context()
    ti = {k: v for k, v in vars(context["ti"]).items() if k != "log_url"}
    context["ti"] = context["task_instance"] = _NoLogUrl(**ti)
    fields = failure_fields(context)
    assert fields["log_url"] is None
    assert fields["run_id"] == "scheduled__2024-05-03T00:00:00+00:00"
    assert fields["dag_id"] == "replica_ledger_daily"
    assert "Log: no URL available" in failure_payload(fields)["blocks"][0]["text"]["text"]


def test_a_failed_preflight_tells_the_platform_route_every_missing_item(slack, tmp_path):
    """The preflight's one failure reaches the platform route through the failure callback,
    each missing item on its own line (not cut at the error's first line)."""
    from replica_ledger.preflight import PreflightError, Problem

    problems = [
        Problem("Slack connection", "slack_orders_webhook", "does not exist"),
        Problem("pool", "duckdb_writer", "does not exist"),
        Problem("BigQuery dataset", "acme-ledger-prod.replica_ledger", "does not exist"),
        Problem("archive bucket", "gs://acme-ledger-archive", "does not exist"),
    ]
    context = af3_context()
    context["exception"] = PreflightError(problems)
    failure_notifier("slack_default_webhook", outbox_dir=tmp_path)(context)
    (post,) = slack.posts("slack_default_webhook")
    listed = post.body["blocks"][1]["text"]["text"]
    assert listed.startswith("*Missing (4):*")
    for problem in problems:
        assert f"• {problem}" in listed
        assert str(problem) in post.body["text"]


def test_in_production_a_missing_platform_connection_writes_no_outbox(no_slack_connections, tmp_path, all_logs):
    failure_notifier("slack_default_webhook", outbox_dir=tmp_path, production=True)(af3_context())
    assert list(tmp_path.iterdir()) == []
    assert "Slack connection 'slack_default_webhook' does not exist" in all_logs.text

"""The admission policies' audit annotation: read from a LogEntry's labels (GKE) and from an
audit.k8s.io Event's annotations, bounded, and hostile text made harmless."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import pytest

from replica_ledger.audit import admission
from replica_ledger.audit.entries import read_entry
from replica_ledger.audit.writes import write_row
from replica_ledger.policies import objects
from replica_ledger.raw.schema import RAW_TABLES
from replica_ledger.warehouse.duckdb import ensure_raw_schema
from tooling import audit_entries as make

AT = datetime(2026, 10, 10, 15, 20, tzinfo=UTC)


def _failure(policy: str = objects.HPA_POLICY, message: str = "HPA maxReplicas 6 exceeds 3") -> str:
    return json.dumps(
        [
            {
                "message": message,
                "policy": policy,
                "binding": policy,
                "expressionIndex": 0,
                "validationActions": ["Warn", "Audit"],
            }
        ]
    )


def _log_entry(labels: dict | None) -> dict:
    return make.log_entry(
        insert_id="x-1",
        at=AT,
        cluster="gke-eu",
        resource="horizontalpodautoscalers",
        verb="patch",
        namespace="payments",
        name="payments-api",
        principal="ana.lopez@example.com",
        user_agent=make.KUBECTL_AGENT,
        request={"spec": {"maxReplicas": 6}},
        response=make.hpa_object("payments", "payments-api", 6),
        labels=labels,
    )


def test_a_gke_log_entry_carries_it_in_its_labels_and_the_write_row_keeps_it():
    entry = read_entry(_log_entry({"authorization.k8s.io/decision": "allow", admission.ANNOTATION: _failure()}))
    assert entry.admission_failure == f"{objects.HPA_POLICY}: HPA maxReplicas 6 exceeds 3"
    assert write_row(entry, ())["admission_failure"] == entry.admission_failure


def test_an_upstream_event_carries_it_in_its_annotations():
    event = make.k8s_event(
        audit_id="e-1",
        at=AT,
        resource="deployments",
        verb="update",
        namespace="orders",
        name="orders-api",
        username="sam.ortiz@example.com",
        user_agent=make.KUBECTL_AGENT,
        request=make.deployment_object("orders", "orders-api", 9),
        response=make.deployment_object("orders", "orders-api", 9),
    )
    event["annotations"] = {**event.get("annotations", {}), admission.ANNOTATION: _failure(objects.DEPLOYMENT_POLICY)}
    assert read_entry(event).admission_failure.startswith(f"{objects.DEPLOYMENT_POLICY}: ")


def test_a_write_no_policy_flagged_has_none():
    assert read_entry(_log_entry({"authorization.k8s.io/decision": "allow"})).admission_failure is None
    assert read_entry(_log_entry(None)).admission_failure is None


def test_our_policy_comes_first_when_several_failed():
    value = json.loads(_failure("someone-elses-policy", "no")) + json.loads(_failure())
    assert admission.failure_text(json.dumps(value), objects.POLICY_NAMES).startswith(objects.HPA_POLICY)


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "{}",
        "[]",
        json.dumps([{"message": "x"}]),  # no policy
        json.dumps([{"policy": "Bad Name!", "message": "x"}]),
        json.dumps([{"policy": "p", "message": "x" * 20_000}]),  # over the byte bound
        12,
    ],
)
def test_an_annotation_that_is_not_what_kubernetes_writes_still_marks_the_write(value):
    assert admission.failure_text(value) == admission.UNREADABLE


def test_hostile_text_is_bounded_and_loses_its_control_characters():
    message = "\x1b[2J\x1b]8;;https://evil.example\x07click\u202e me\n" + "y" * 1000
    text = admission.failure_text(_failure(message=message))
    assert len(text) <= len(objects.HPA_POLICY) + 2 + admission.MAX_MESSAGE_CHARS
    assert not any(ch in text for ch in "\x1b\x07\n\u202e")


def test_a_warehouse_made_before_the_column_gets_it(tmp_path):
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("create schema raw")
    old = {name: kind for name, kind in RAW_TABLES["k8s_audit_events"].items() if name != "admission_failure"}
    con.execute(f"create table raw.k8s_audit_events ({', '.join(f'{n} {k}' for n, k in old.items())})")
    ensure_raw_schema(con)
    columns = [row[0] for row in con.execute("describe raw.k8s_audit_events").fetchall()]
    assert columns[-1] == "admission_failure"

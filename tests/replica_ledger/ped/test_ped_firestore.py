"""firestore-sync against the real Firestore emulator (gcloud's cloud-firestore-emulator) on 127.0.0.1.

Documents are seeded through the emulator's REST API; the emulator stamps their updateTime
itself, so expected change ids and times come from what it returned when seeding. A spy on
requests' Session.send (the call passes through unchanged) records the pages the sync asked
for and the Authorization it sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from replica_ledger.ped.firestore import decode_fields, list_documents, make_session
from tooling.emulators.firestore import typed_fields

PROJECT, COLLECTION = "acme-platform", "ped-apis"
PREFIX = f"projects/{PROJECT}/databases/(default)/documents"


@dataclass(frozen=True)
class ListRequest:
    path: str
    query: dict[str, str]
    authorization: str | None
    next_page_token: str | None


@pytest.fixture
def firestore(empty_firestore, monkeypatch):
    """The emulator, with `requests` (the sync's own GET calls) recorded in `firestore.requests`."""
    recorded: list[ListRequest] = []
    send = requests.Session.send

    def recording_send(session, request, **kwargs):
        response = send(session, request, **kwargs)
        parts = urlsplit(request.url)
        body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        recorded.append(
            ListRequest(
                unquote(parts.path),
                {key: values[0] for key, values in parse_qs(parts.query).items()},
                request.headers.get("Authorization"),
                body.get("nextPageToken") if isinstance(body, dict) else None,
            )
        )
        return response

    monkeypatch.setattr(requests.Session, "send", recording_send)
    empty_firestore.requests = recorded
    yield empty_firestore
    del empty_firestore.requests


def put_api(firestore, doc_id, namespace, name, max_replicas, cpu=2, memory=4.0, **top) -> str:
    """Write the PED document of one API to the emulator; returns the updateTime it got."""
    data = {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"minReplicas": 2, "maxReplicas": max_replicas, "resources": {"cpu": cpu, "memoryGb": memory}},
        **top,
    }
    return firestore.put_document(PROJECT, f"{COLLECTION}/{doc_id}", data)["updateTime"]


def three_apis(firestore) -> list[str]:
    """Three APIs, written in this order (so their updateTimes increase); returns the updateTimes."""
    return [
        put_api(firestore, "pricing--quote-api", "pricing", "quote-api", 4, changedBy="alice@example.com"),
        put_api(firestore, "search--suggest", "search", "suggest", 3, cpu=0.5, memory=1.5),
        put_api(firestore, "cart--cart-api", "cart", "cart-api", 8),
    ]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def sync_args(log, *extra):
    return ("firestore-sync", "--project", PROJECT, "--collection", COLLECTION, "--log", log, "--page-size", 2, *extra)


def test_sync_reads_two_pages_and_is_idempotent(ped, firestore, tmp_path):
    pricing_at, search_at, cart_at = three_apis(firestore)
    log = tmp_path / "changes.jsonl"
    env = {"FIRESTORE_EMULATOR_HOST": firestore.host}
    first = ped(*sync_args(log), env=env)
    assert first.code == 0, first.err
    assert first.out_lines[-1] == "summary: accepted=3 no-op=0 rejected=0"
    # Two pages, the second asked for with the first's token; emulator-style anonymous auth.
    pages = firestore.requests
    assert {page.path for page in pages} == {f"/v1/{PREFIX}/{COLLECTION}"}
    assert [(page.query.get("pageToken"), page.query["pageSize"]) for page in pages] == [
        (None, "2"),
        (pages[0].next_page_token, "2"),
    ]
    assert pages[0].next_page_token and pages[1].next_page_token is None
    assert {page.authorization for page in pages} == {"Bearer owner"}
    written = rows(log)
    assert [r["change_id"] for r in written] == [
        f"firestore:{COLLECTION}/pricing--quote-api@{pricing_at}",
        f"firestore:{COLLECTION}/search--suggest@{search_at}",
        f"firestore:{COLLECTION}/cart--cart-api@{cart_at}",
    ]
    assert written[0] == {
        "change_id": f"firestore:{COLLECTION}/pricing--quote-api@{pricing_at}",
        "namespace": "pricing",
        "deployment": "quote-api",
        "team": "pricing",
        "min_replicas": 2,
        "max_replicas": 4,
        "cpu": 2,
        "memory_gb": 4,
        "changed_at": pricing_at,
        "changed_by": "alice@example.com",
        "action": "upsert",
        "reason": None,
    }
    assert (written[1]["cpu"], written[1]["memory_gb"], written[1]["changed_by"]) == (0.5, 1.5, "firestore-sync")

    second = ped(*sync_args(log), env=env)
    assert second.code == 0
    assert second.out_lines[-1] == "summary: accepted=0 no-op=3 rejected=0"
    assert len(rows(log)) == 3


def test_sync_appends_when_a_documents_limits_change(ped, firestore, tmp_path):
    three_apis(firestore)
    log = tmp_path / "changes.jsonl"
    env = {"FIRESTORE_EMULATOR_HOST": firestore.host}
    ped(*sync_args(log), env=env)
    changed_at = put_api(firestore, "pricing--quote-api", "pricing", "quote-api", 6, reason="autumn sale")
    result = ped(*sync_args(log), env=env)
    assert result.out_lines[-1] == "summary: accepted=1 no-op=2 rejected=0"
    last = rows(log)[-1]
    assert (last["max_replicas"], last["changed_at"], last["reason"]) == (6, changed_at, "autumn sale")
    # A touched document whose limits did not change appends nothing: a new changedBy gives it
    # a new updateTime (rewriting identical fields would not: Firestore keeps the old one).
    touched_at = put_api(firestore, "search--suggest", "search", "suggest", 3, cpu=0.5, memory=1.5, changedBy="bob")
    assert touched_at > changed_at
    assert ped(*sync_args(log), env=env).out_lines[-1] == "summary: accepted=0 no-op=3 rejected=0"
    assert len(rows(log)) == 4


def test_sync_compares_with_the_last_version_from_any_source(ped, firestore, tmp_path):
    """The log already has the API at the same limits (e.g. recorded from YAML): nothing to add."""
    three_apis(firestore)
    log = tmp_path / "changes.jsonl"
    log.write_text(
        json.dumps(
            {
                "change_id": "ped-7f3a9c1",
                "namespace": "pricing",
                "deployment": "quote-api",
                "team": "pricing",
                "min_replicas": 2,
                "max_replicas": 4,
                "cpu": 2,
                "memory_gb": 4,
                "changed_at": "2026-09-14T13:02:00Z",
                "changed_by": "alice@example.com",
                "action": "upsert",
                "reason": "onboarding",
            }
        )
        + "\n"
    )
    result = ped(*sync_args(log, "--endpoint", firestore.url, "--anonymous"))
    assert result.out_lines[-1] == "summary: accepted=2 no-op=1 rejected=0"
    assert {page.authorization for page in firestore.requests} == {"Bearer owner"}


def test_sync_warns_when_the_log_is_newer_than_firestore(ped, firestore, tmp_path):
    """The log's last version of an API is later than the document's updateTime: appended, with a warning."""
    (pricing_at, *_) = three_apis(firestore)
    log = tmp_path / "changes.jsonl"
    later = {
        "change_id": "ped-later",
        "namespace": "pricing",
        "deployment": "quote-api",
        "team": "pricing",
        "min_replicas": 2,
        "max_replicas": 5,
        "cpu": 2,
        "memory_gb": 4,
        "changed_at": "2099-01-01T00:00:00Z",
        "changed_by": "alice@example.com",
        "action": "upsert",
        "reason": None,
    }
    log.write_text(json.dumps(later) + "\n")
    result = ped(*sync_args(log), env={"FIRESTORE_EMULATOR_HOST": firestore.host})
    assert result.out_lines[-1] == "summary: accepted=3 no-op=0 rejected=0"
    assert result.err_lines == [
        "warning: pricing/quote-api: the change log's last version (ped-later, 2099-01-01T00:00:00Z) "
        f"is newer than Firestore's updateTime {pricing_at}"
    ]


def test_sync_records_a_delete_document_and_rejects_invalid_ones(ped, firestore, tmp_path):
    three_apis(firestore)
    log = tmp_path / "changes.jsonl"
    env = {"FIRESTORE_EMULATOR_HOST": firestore.host}
    ped(*sync_args(log), env=env)
    put_api(firestore, "cart--cart-api", "cart", "cart-api", 8, action="delete")
    put_api(firestore, "bad", "Bad_NS", "x", 12)
    result = ped(*sync_args(log), env=env)
    assert result.code == 2
    assert result.out_lines[-1] == "summary: accepted=1 no-op=2 rejected=1"
    assert result.err_lines[:2] == [
        f'rejected: {COLLECTION}/bad: metadata.namespace: "Bad_NS" is not a valid namespace: it must be a '
        "DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)",
        f"rejected: {COLLECTION}/bad: spec.maxReplicas: 12 is above the platform maximum 8",
    ]
    last = rows(log)[-1]
    assert (last["namespace"], last["action"], last["max_replicas"]) == ("cart", "delete", None)
    again = ped(*sync_args(log), env=env)
    assert again.out_lines[-1] == "summary: accepted=0 no-op=3 rejected=1"


def test_sync_empty_collection_and_http_errors(ped, firestore, tmp_path):
    log = tmp_path / "changes.jsonl"
    env = {"FIRESTORE_EMULATOR_HOST": firestore.host}
    empty = ped(*sync_args(log), env=env)
    assert (empty.code, empty.out_lines) == (0, ["summary: accepted=0 no-op=0 rejected=0"])
    # Firestore has no "missing collection": one that was never written lists as empty.
    never_written = ped("firestore-sync", "--project", PROJECT, "--collection", "nope", "--log", log, env=env)
    assert (never_written.code, never_written.out_lines) == (0, ["summary: accepted=0 no-op=0 rejected=0"])
    # An id Firestore reserves (__.*__) is refused with HTTP 400: a clear error, nothing written.
    refused = ped("firestore-sync", "--project", PROJECT, "--collection", "__ped__", "--log", log, env=env)
    assert refused.code == 1
    assert refused.err_lines[0].startswith(
        f"error: FirestoreError: GET http://{firestore.host}/v1/{PREFIX}/__ped__ returned HTTP 400"
    )
    assert "reserved" in refused.err
    assert not log.exists()


def test_list_documents_directly(firestore):
    three_apis(firestore)
    endpoint, session = make_session(firestore.url, anonymous=True, env={})
    documents = list(list_documents(session, endpoint, PROJECT, COLLECTION, page_size=1))
    assert [document["name"].rsplit("/", 1)[-1] for document in documents] == [
        "cart--cart-api",
        "pricing--quote-api",
        "search--suggest",
    ]
    # Firestore gives a page token after every full page, so the 4th page is asked for and empty.
    assert len(firestore.requests) == 4
    assert firestore.requests[-1].next_page_token is None


def test_typed_values_round_trip_through_the_emulator(firestore):
    """What the emulator stores and lists decodes back to the Python values written."""
    data = {
        "i": 9007199254740993,  # above 2**53: survives only because int64 travels as a string
        "d": 0.25,
        "s": "x",
        "n": None,
        "b": True,
        "m": {"inner": 2},
        "empty_map": {},
        "a": ["y", 1.5],
    }
    firestore.put_document(PROJECT, f"{COLLECTION}/typed", data)
    endpoint, session = make_session(firestore.url, anonymous=True, env={})
    (document,) = list_documents(session, endpoint, PROJECT, COLLECTION)
    assert decode_fields(document["fields"]) == data
    assert document["fields"] == typed_fields(data) | {"empty_map": {"mapValue": {}}}


def test_decode_typed_values():
    fields = {
        "i": {"integerValue": "9007199254740993"},
        "d": {"doubleValue": 0.25},
        "s": {"stringValue": "x"},
        "n": {"nullValue": None},
        "b": {"booleanValue": True},
        "m": {"mapValue": {"fields": {"inner": {"integerValue": "2"}}}},
        "empty_map": {"mapValue": {}},
        "a": {"arrayValue": {"values": [{"stringValue": "y"}]}},
        "t": {"timestampValue": "2026-10-01T00:00:00Z"},
    }
    assert decode_fields(fields) == {
        "i": 9007199254740993,
        "d": 0.25,
        "s": "x",
        "n": None,
        "b": True,
        "m": {"inner": 2},
        "empty_map": {},
        "a": ["y"],
        "t": "2026-10-01T00:00:00Z",
    }


def test_production_session_uses_google_auth(monkeypatch):
    """Without an emulator the session is google-auth's AuthorizedSession with the datastore scope."""
    import google.auth
    from google.auth.credentials import AnonymousCredentials
    from google.auth.transport.requests import AuthorizedSession

    scopes = []
    monkeypatch.setattr(google.auth, "default", lambda scopes=None: (scopes_seen(scopes), "p"))

    def scopes_seen(value):
        scopes.append(value)
        return AnonymousCredentials()

    endpoint, session = make_session(None, env={})
    assert endpoint == "https://firestore.googleapis.com"
    assert isinstance(session, AuthorizedSession)
    assert scopes == [["https://www.googleapis.com/auth/datastore"]]

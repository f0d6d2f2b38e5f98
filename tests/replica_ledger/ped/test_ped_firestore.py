"""firestore-sync against a real HTTP server on 127.0.0.1 speaking the Firestore REST list API.

The Firestore emulator needs Java and gcloud, which this environment cannot install, so the
server below implements ``GET /v1/projects/{p}/databases/{db}/documents/{collection}`` with
``pageSize``/``pageToken`` paging and Firestore's typed values (integerValue as a string,
doubleValue, stringValue, mapValue).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from replica_ledger.ped.firestore import decode_fields, list_documents, make_session

PROJECT, COLLECTION = "acme-platform", "ped-apis"
PREFIX = f"projects/{PROJECT}/databases/(default)/documents"


def typed(value):
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, dict):
        return {"mapValue": {"fields": {k: typed(v) for k, v in value.items()}}}
    if isinstance(value, list):
        return {"arrayValue": {"values": [typed(v) for v in value]}}
    return {"stringValue": value}


def api_doc(doc_id, namespace, name, max_replicas, cpu=2, memory=4.0, update="2026-10-01T10:00:00.123456Z", **top):
    fields = {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"minReplicas": 2, "maxReplicas": max_replicas, "resources": {"cpu": cpu, "memoryGb": memory}},
        **top,
    }
    return {
        "name": f"{PREFIX}/{COLLECTION}/{doc_id}",
        "fields": {key: typed(value) for key, value in fields.items()},
        "createTime": "2026-09-01T00:00:00Z",
        "updateTime": update,
    }


class FakeFirestore(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.documents: list[dict] = []
        self.requests: list[tuple[str, dict, str | None]] = []

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeFirestore

    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.requests.append((unquote(parts.path), query, self.headers.get("Authorization")))
        if unquote(parts.path) != f"/v1/{PREFIX}/{COLLECTION}":
            return self.reply(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
        size = int(query.get("pageSize", 300))
        start = int(query.get("pageToken", 0))
        docs = sorted(self.server.documents, key=lambda d: d["name"])
        body = {"documents": docs[start : start + size]} if docs[start : start + size] else {}
        if start + size < len(docs):
            body["nextPageToken"] = str(start + size)
        self.reply(200, body)

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def firestore():
    server = FakeFirestore()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def three_apis(server):
    server.documents = [
        api_doc("pricing--quote-api", "pricing", "quote-api", 4, changedBy="alice@example.com"),
        api_doc("search--suggest", "search", "suggest", 3, cpu=0.5, memory=1.5, update="2026-10-02T09:00:00Z"),
        api_doc("cart--cart-api", "cart", "cart-api", 8, update="2026-10-03T09:00:00Z"),
    ]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def sync_args(log, *extra):
    return ("firestore-sync", "--project", PROJECT, "--collection", COLLECTION, "--log", log, "--page-size", 2, *extra)


def test_sync_reads_two_pages_and_is_idempotent(ped, firestore, tmp_path):
    three_apis(firestore)
    log = tmp_path / "changes.jsonl"
    env = {"FIRESTORE_EMULATOR_HOST": firestore.host}
    first = ped(*sync_args(log), env=env)
    assert first.code == 0, first.err
    assert first.out_lines[-1] == "summary: accepted=3 no-op=0 rejected=0"
    # Two pages, the second asked for with the first's token; emulator-style anonymous auth.
    assert [(q.get("pageToken"), q["pageSize"]) for _, q, _ in firestore.requests] == [(None, "2"), ("2", "2")]
    assert {auth for _, _, auth in firestore.requests} == {"Bearer owner"}
    written = rows(log)
    assert [r["change_id"] for r in written] == [
        f"firestore:{COLLECTION}/pricing--quote-api@2026-10-01T10:00:00.123456Z",
        f"firestore:{COLLECTION}/search--suggest@2026-10-02T09:00:00Z",
        f"firestore:{COLLECTION}/cart--cart-api@2026-10-03T09:00:00Z",
    ]
    assert written[0] == {
        "change_id": f"firestore:{COLLECTION}/pricing--quote-api@2026-10-01T10:00:00.123456Z",
        "namespace": "pricing",
        "deployment": "quote-api",
        "team": "pricing",
        "min_replicas": 2,
        "max_replicas": 4,
        "cpu": 2,
        "memory_gb": 4,
        "changed_at": "2026-10-01T10:00:00.123456Z",
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
    firestore.documents[0] = api_doc(
        "pricing--quote-api", "pricing", "quote-api", 6, update="2026-10-11T08:40:00Z", reason="autumn sale"
    )
    result = ped(*sync_args(log), env=env)
    assert result.out_lines[-1] == "summary: accepted=1 no-op=2 rejected=0"
    last = rows(log)[-1]
    assert (last["max_replicas"], last["changed_at"], last["reason"]) == (6, "2026-10-11T08:40:00Z", "autumn sale")
    # A touched document whose limits did not change appends nothing.
    firestore.documents[1]["updateTime"] = "2026-10-20T00:00:00Z"
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
    result = ped(*sync_args(log, "--endpoint", f"http://{firestore.host}", "--anonymous"))
    assert result.out_lines[-1] == "summary: accepted=2 no-op=1 rejected=0"


def test_sync_records_a_delete_document_and_rejects_invalid_ones(ped, firestore, tmp_path):
    three_apis(firestore)
    log = tmp_path / "changes.jsonl"
    env = {"FIRESTORE_EMULATOR_HOST": firestore.host}
    ped(*sync_args(log), env=env)
    firestore.documents[2] = api_doc(
        "cart--cart-api", "cart", "cart-api", 8, update="2026-11-01T00:00:00Z", action="delete"
    )
    firestore.documents.append(api_doc("bad", "Bad_NS", "x", 12, update="2026-11-01T00:00:00Z"))
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
    missing = ped("firestore-sync", "--project", PROJECT, "--collection", "nope", "--log", log, env=env)
    assert missing.code == 1
    assert missing.err_lines[0].startswith(
        f"error: FirestoreError: GET http://{firestore.host}/v1/{PREFIX}/nope returned HTTP 404"
    )
    assert not log.exists()


def test_list_documents_directly(firestore):
    three_apis(firestore)
    endpoint, session = make_session(f"http://{firestore.host}", anonymous=True, env={})
    documents = list(list_documents(session, endpoint, PROJECT, COLLECTION, page_size=1))
    assert len(documents) == 3 and len(firestore.requests) == 3


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

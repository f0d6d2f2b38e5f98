"""Sync a Firestore PED collection (current state only) into the append-only change log.

Some platforms let PED write each API's current limits to a Firestore document instead of
a YAML file. Firestore keeps no history, so this sync turns it into change rows: every
document is compared with the last version of its API in the change log, and when the
state (team, limits or action) differs, a change is appended with the document's
``updateTime`` as ``changed_at`` and ``firestore:<collection>/<doc id>@<updateTime>`` as
``change_id``. Running it again appends nothing.

Documents have the same shape as a PED YAML file (``metadata``, ``spec``, optional
``action``/``reason``; ``apiVersion``/``kind`` may be omitted) and are validated by the same
rules; an optional top-level ``changedBy`` string becomes ``changed_by``. A document with
``action: delete`` records a delete of its API. A document that disappeared is not turned
into a delete: the change log may hold APIs from other sources, and an empty listing must
never decommission anything.

Reading uses the Firestore REST API (``GET .../documents/<collection>``, paged with
``pageToken``), with ``google.auth``'s ``AuthorizedSession`` against
``https://firestore.googleapis.com`` in production. With ``FIRESTORE_EMULATOR_HOST=host:port``
(the emulator convention) or ``--endpoint URL --anonymous``, plain anonymous HTTP is used.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from replica_ledger.changelog import (
    ChangeError,
    current_versions,
    normalize_row,
    normalize_time,
    parse_time,
    same_state,
)
from replica_ledger.ped.backend import ACCEPTED, CONFLICT, NOOP, ChangeLog
from replica_ledger.ped.document import validate_data
from replica_ledger.ped.messages import describe
from replica_ledger.ped.record import Change
from replica_ledger.ped.schema import API_VERSION, KIND, Limits

PRODUCTION_ENDPOINT = "https://firestore.googleapis.com"
DATASTORE_SCOPE = "https://www.googleapis.com/auth/datastore"
DEFAULT_CHANGED_BY = "firestore-sync"


class FirestoreError(RuntimeError):
    pass


def decode_value(value: Mapping):
    """A Firestore REST typed value -> plain Python."""
    if "nullValue" in value:
        return None
    if "booleanValue" in value:
        return bool(value["booleanValue"])
    if "integerValue" in value:
        return int(value["integerValue"])  # int64 travels as a JSON string
    if "doubleValue" in value:
        return float(value["doubleValue"])  # a number, or "NaN"/"Infinity" strings
    if "stringValue" in value:
        return value["stringValue"]
    if "timestampValue" in value:
        return value["timestampValue"]
    if "mapValue" in value:
        return decode_fields(value["mapValue"].get("fields", {}))
    if "arrayValue" in value:
        return [decode_value(item) for item in value["arrayValue"].get("values", [])]
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    if "referenceValue" in value:
        return value["referenceValue"]
    if "geoPointValue" in value:
        return dict(value["geoPointValue"])
    raise FirestoreError(f"unknown Firestore value type: {sorted(value)}")


def decode_fields(fields: Mapping) -> dict:
    return {name: decode_value(value) for name, value in fields.items()}


def make_session(endpoint: str | None = None, anonymous: bool = False, env: Mapping | None = None):
    """(base URL, session): emulator/anonymous -> requests.Session; else AuthorizedSession."""
    import requests

    env = os.environ if env is None else env
    emulator = env.get("FIRESTORE_EMULATOR_HOST")
    if endpoint is None and emulator:
        endpoint, anonymous = f"http://{emulator}", True
    endpoint = (endpoint or PRODUCTION_ENDPOINT).rstrip("/")
    if anonymous:
        session = requests.Session()
        session.headers["Authorization"] = "Bearer owner"  # the emulator's admin token
        return endpoint, session
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=[DATASTORE_SCOPE])
    return endpoint, AuthorizedSession(credentials)


def list_documents(
    session,
    endpoint: str,
    project: str,
    collection: str,
    *,
    database: str = "(default)",
    page_size: int = 300,
    timeout: float = 30,
) -> Iterator[dict]:
    """Every document of a collection, following ``nextPageToken``."""
    url = (
        f"{endpoint}/v1/projects/{quote(project, safe='')}/databases/{quote(database, safe='()')}"
        f"/documents/{quote(collection, safe='/')}"
    )
    token = None
    pages = 0
    while True:
        params = {"pageSize": page_size}
        if token:
            params["pageToken"] = token
        response = session.get(url, params=params, timeout=timeout)
        if response.status_code != 200:
            raise FirestoreError(f"GET {url} returned HTTP {response.status_code}: {response.text[:300].strip()}")
        try:
            body = response.json()
        except ValueError:
            raise FirestoreError(f"GET {url} returned a body that is not JSON") from None
        yield from body.get("documents", [])
        token = body.get("nextPageToken")
        pages += 1
        if not token:
            return
        if pages > 100_000:
            raise FirestoreError("more than 100000 pages: is the server repeating its page token?")


@dataclass
class SyncReport:
    accepted: list[str] = field(default_factory=list)
    noop: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # messages (invalid documents, conflicts)
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def document_change(document: Mapping, collection: str, limits: Limits) -> tuple[Change | None, list[str]]:
    """A Firestore REST document -> (change, []) or (None, errors)."""
    name = document.get("name", "")
    doc_id = name.split("/documents/", 1)[-1] if "/documents/" in name else f"{collection}/{name}"
    data = decode_fields(document.get("fields", {}))
    changed_by = data.pop("changedBy", None)
    data.setdefault("apiVersion", API_VERSION)
    data.setdefault("kind", KIND)
    ped, errors = validate_data(data, limits)
    if changed_by is not None and not isinstance(changed_by, str):
        errors = [*errors, f"changedBy: expected a string, got {describe(changed_by)}"]
    try:
        changed_at = normalize_time(document.get("updateTime"))
        if changed_at is None:
            errors = [*errors, "updateTime: required field is missing"]
    except ChangeError as exc:
        errors = [*errors, f"updateTime: {exc}"]
    if errors:
        return None, [f"{doc_id}: {error}" for error in errors]
    row = normalize_row(
        {
            "change_id": f"firestore:{doc_id}@{changed_at}",
            "namespace": ped.namespace,
            "deployment": ped.deployment,
            "team": ped.team,
            "min_replicas": ped.min_replicas,
            "max_replicas": ped.max_replicas,
            "cpu": ped.cpu,
            "memory_gb": ped.memory_gb,
            "changed_at": changed_at,
            "changed_by": changed_by or DEFAULT_CHANGED_BY,
            "action": ped.action,
            "reason": ped.reason,
        }
    )
    return Change(row=row), []


def sync(documents, collection: str, log: ChangeLog, limits: Limits | None = None) -> SyncReport:
    limits = limits or Limits()
    report = SyncReport()
    current = current_versions(log.read_rows())
    changes = []
    for document in documents:
        change, errors = document_change(document, collection, limits)
        if errors:
            report.rejected.append(document.get("name", "?"))
            report.messages.extend(f"rejected: {error}" for error in errors)
        else:
            changes.append(change)
    # Oldest first, so that two documents for one API leave the newest as the current state.
    changes.sort(key=lambda change: (change.row["changed_at"], change.change_id))
    for change in changes:
        key = (change.row["namespace"], change.row["deployment"])
        last = current.get(key)
        if last is None and change.row["action"] == "delete":
            report.noop.append(change.change_id)
            report.messages.append(f"no-op: {change.api} is deleted in Firestore and has no version to close")
            continue
        if last is not None and same_state(last, change.row):
            report.noop.append(change.change_id)
            continue
        if last is not None and parse_time(last["changed_at"]) > parse_time(change.row["changed_at"]):
            report.warnings.append(
                f"warning: {change.api}: the change log's last version ({last['change_id']}, "
                f"{last['changed_at']}) is newer than Firestore's updateTime {change.row['changed_at']}"
            )
        outcome = log.append(change)
        if outcome.status == ACCEPTED:
            report.accepted.append(change.change_id)
            current[key] = change.row
        elif outcome.status == NOOP:
            report.noop.append(change.change_id)
        elif outcome.status == CONFLICT:
            report.rejected.append(change.change_id)
        report.messages.append(outcome.message)
    return report

"""A valid PED document -> the change row to record, with the contract's defaults filled in.

The row's fields and normal form are the change log's (:mod:`replica_ledger.changelog`);
this module decides only what a PED change adds: its id, its time and its author.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from replica_ledger import clock
from replica_ledger.changelog import ChangeError, format_time, normalize_row, parse_time
from replica_ledger.contract import UNKNOWN_CHANGED_BY
from replica_ledger.ped.document import PedDocument
from replica_ledger.ped.messages import FREE_TEXT_RULE
from replica_ledger.ped.schema import FREE_TEXT

CHANGE_ID_MAX = 256

_CHANGE_ID = re.compile(r"^[^\s<>\x00-\x1f\x7f-\x9f]+$")
_FREE_TEXT = re.compile(FREE_TEXT)
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")


@dataclass
class Change:
    """A row to record, and whether its ``changed_at`` was defaulted to "now"."""

    row: dict
    changed_at_defaulted: bool = False

    @property
    def change_id(self) -> str:
        return self.row["change_id"]

    @property
    def api(self) -> str:
        return f"{self.row['namespace']}/{self.row['deployment']}"


def content_hash_id(row: Mapping) -> str:
    """``ped-`` + 16 hex digits of the SHA-256 of the normal-form row without its change_id."""
    normal = normalize_row(row)
    normal.pop("change_id")
    canonical = json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "ped-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def check_change_id(change_id: str) -> str:
    if not isinstance(change_id, str) or not change_id or len(change_id) > CHANGE_ID_MAX:
        raise ChangeError(f"change id {change_id!r} must be 1..{CHANGE_ID_MAX} characters")
    if not _CHANGE_ID.match(change_id):
        raise ChangeError(f"change id {change_id!r} must not contain spaces, '<', '>' or control characters")
    return change_id


def _effective_time(changed_at: str | datetime | None, now: datetime | None) -> datetime:
    if changed_at is None:
        return (now or clock.now()).replace(microsecond=0)
    if isinstance(changed_at, datetime):
        if changed_at.tzinfo is None:
            raise ChangeError("changed_at must carry a UTC offset")
        return changed_at
    return parse_time(changed_at)


def _default_change_id(document: PedDocument, row: dict, env: Mapping[str, str]) -> str:
    sha = (env.get("GITHUB_SHA") or "").strip()
    if sha and _SHA.match(sha):
        return f"{sha.lower()}:{document.namespace}/{document.deployment}"
    return content_hash_id(row)


def build_change(
    document: PedDocument,
    *,
    change_id: str | None = None,
    changed_at: str | datetime | None = None,
    changed_by: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Change:
    """The change row for a valid PED document.

    * ``changed_at``: given (e.g. the merge time of the PED commit), else now (UTC, seconds).
    * ``changed_by``: given, else ``$GITHUB_ACTOR`` (who merged, in a GitHub workflow),
      else ``unknown``.
    * ``change_id``: given, else ``<$GITHUB_SHA>:<namespace>/<deployment>`` (the PED commit;
      one commit may change several PED files, so the API is part of the id), else a content
      hash of the normal-form row (``ped-<16 hex>``), which includes ``changed_at``.
    """
    env = os.environ if env is None else env
    moment = _effective_time(changed_at, now)
    who = changed_by if changed_by not in (None, "") else env.get("GITHUB_ACTOR") or UNKNOWN_CHANGED_BY
    if not _FREE_TEXT.match(who):
        raise ChangeError(f"changed_by {who!r} {FREE_TEXT_RULE}")
    row = normalize_row(
        {
            "change_id": None,
            "namespace": document.namespace,
            "deployment": document.deployment,
            "team": document.team,
            "min_replicas": document.min_replicas,
            "max_replicas": document.max_replicas,
            "cpu": document.cpu,
            "memory_gb": document.memory_gb,
            "changed_at": format_time(moment),
            "changed_by": who,
            "action": document.action,
            "reason": document.reason,
        }
    )
    if change_id is None:
        change_id = _default_change_id(document, row, env)
    row["change_id"] = check_change_id(change_id)
    return Change(row=row, changed_at_defaulted=changed_at is None)

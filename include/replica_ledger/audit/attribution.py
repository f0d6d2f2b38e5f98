"""Who crossed the limit: the edit (fct_limit_edits) behind each hpa_max_over_limit episode.

An episode starts on the snapshot day whose snapshot first shows the HPA max above the
approved max. The edit that crossed it is the last person's or pipeline's edit of that
HPA's max, made before that snapshot was taken, that took the max from at most the
approved max (or from an unknown value) to above it. No audit source, or no such edit:
the episode has no "who".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from replica_ledger.contract import HPA_MAX_OVER_LIMIT

log = logging.getLogger(__name__)
Rows = Callable[[str], list[dict]]

EPISODES_SQL = (
    "select episodes.cluster, episodes.namespace, episodes.deployment, episodes.started_on,"
    " manifest.captured_at"
    " from fct_breach_episodes as episodes"
    " left join stg_k8s__snapshot_manifest as manifest"
    " on manifest.snapshot_date = episodes.started_on and manifest.cluster = episodes.cluster"
    f" where episodes.breach_type = '{HPA_MAX_OVER_LIMIT}'"
    " order by episodes.started_on, episodes.namespace, episodes.deployment"
)
EDITS_SQL = (
    "select cluster, namespace, deployment, changed_at, principal, tool, from_value, to_value,"
    " approved_max_replicas from fct_limit_edits where field = 'max_replicas' order by changed_at"
)


def _naive(moment: datetime) -> datetime:
    """BigQuery returns aware UTC timestamps, DuckDB naive UTC ones: compare them naive."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _snapshot_time(episode: dict) -> datetime:
    # A day without a believed capture time is judged at its end (the loader's default).
    captured = episode.get("captured_at")
    if captured is None:
        return datetime.combine(episode["started_on"] + timedelta(days=1), time())
    return _naive(captured)


def crosses(edit: dict) -> bool:
    approved = edit["approved_max_replicas"]
    if approved is None:
        return False
    return edit["to_value"] > approved and (edit["from_value"] is None or edit["from_value"] <= approved)


def who_crossed(episodes: list[dict], edits: list[dict]) -> list[tuple]:
    """(cluster, api, started_on, principal, tool, changed_at, from -> to, approved) per episode."""
    rows = []
    for episode in episodes:
        key = (episode["cluster"], episode["namespace"], episode["deployment"])
        before = _snapshot_time(episode)
        crossing = [
            edit
            for edit in edits
            if (edit["cluster"], edit["namespace"], edit["deployment"]) == key
            and _naive(edit["changed_at"]) <= before
            and crosses(edit)
        ]
        edit = crossing[-1] if crossing else None
        rows.append(_row(episode, edit))
    return rows


def _row(episode: dict, edit: dict | None) -> tuple:
    api = f"{episode['namespace']}/{episode['deployment']}"
    started: date = episode["started_on"]
    if edit is None:
        return (episode["cluster"], api, started, "(no audited edit)", None, None, None, None)
    change = f"{edit['from_value'] if edit['from_value'] is not None else '?'} -> {edit['to_value']}"
    return (
        episode["cluster"],
        api,
        started,
        edit["principal"],
        edit["tool"],
        _naive(edit["changed_at"]).isoformat(sep=" ", timespec="seconds"),
        change,
        edit["approved_max_replicas"],
    )


def who_crossed_rows(rows: Rows) -> list[tuple] | None:
    """The "who" rows from the warehouse, or None when it has no fct_limit_edits yet.

    `rows(sql)` runs a query on the dbt target. A warehouse built before the audit models
    existed has no fct_limit_edits: the report then leaves the section out.
    """
    try:
        edits = rows(EDITS_SQL)
    except Exception as exc:  # DuckDB's CatalogException or BigQuery's NotFound: no such table
        log.warning("no 'who crossed the limit' section: fct_limit_edits cannot be read (%s)", exc)
        return None
    return who_crossed(rows(EPISODES_SQL), edits)

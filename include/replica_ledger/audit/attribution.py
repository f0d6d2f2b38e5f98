"""Who crossed the limit, for every breach episode: the report's "who" section.

The edit is found in dbt (fct_breach_alerts, the same columns the Slack alert shows): the
last edit by a person or a pipeline (fct_limit_edits) made before the snapshot that started
the episode, that took the value from at most the approved max in force at that moment (or
from an unknown value) to above it. For an hpa_max_over_limit episode only an edit of the
HPA max counts; for the others either field (a raised HPA max is what lets the controller
scale above the limit). An unregistered Deployment has no limit to cross. Here the
episode's first alert row (the day it started) is read and worded.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from replica_ledger.contract import UNREGISTERED_DEPLOYMENT
from replica_ledger.warehouse import MissingTable, Warehouse, queries

log = logging.getLogger(__name__)

NO_EDIT = "(no audited edit)"
NO_LIMIT = "(no limit to cross)"
SOURCE_OFF = "(audit log off)"

HEADERS = [
    "cluster",
    "api",
    "breach",
    "started",
    "who",
    "tool",
    "edited at (UTC)",
    "change",
    "approved",
    "PED that day",
]


def _naive(moment: datetime) -> datetime:
    """BigQuery returns aware UTC timestamps, DuckDB naive UTC ones: show them naive."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _time(moment: datetime | None, spec: str = "%Y-%m-%d %H:%M") -> str | None:
    return None if moment is None else _naive(moment).strftime(spec)


def who_row(episode: dict, audit_source_on: bool = True) -> tuple:
    """(cluster, api, breach, started, who, tool, edited at, change, approved, PED that day)."""
    head = (
        episode["cluster"],
        f"{episode['namespace']}/{episode['deployment']}",
        episode["breach_type"],
        episode["episode_started_on"],
    )
    if episode["breach_type"] == UNREGISTERED_DEPLOYMENT:
        return (*head, NO_LIMIT, None, None, None, None, None)
    if not episode.get("crossed_by"):
        return (
            *head,
            NO_EDIT if audit_source_on else SOURCE_OFF,
            None,
            None,
            None,
            episode["approved_max_replicas"],
            None,
        )
    before = episode["crossed_from_value"]
    field = "HPA max" if episode["crossed_field"] == "max_replicas" else "replicas"
    change = f"{field} {'?' if before is None else before} -> {episode['crossed_to_value']}"
    approved_that_day = None
    if episode.get("ped_approved_at") is not None:
        approved_that_day = (
            f"max {episode['ped_approved_max_replicas']} at {_time(episode['ped_approved_at'], '%H:%M')}"
        )
    return (
        *head,
        episode["crossed_by"],
        episode["crossed_with"],
        _time(episode["crossed_at"]),
        change,
        episode["approved_max_replicas"],
        approved_that_day,
    )


def who_crossed_rows(warehouse: Warehouse, audit_source_on: bool = True) -> list[tuple] | None:
    """The "who" row of every episode, or None when the warehouse has no attribution yet.

    A warehouse built before fct_breach_alerts (or before its attribution columns) existed
    cannot answer: the report then leaves the section out.
    """
    try:
        episodes = queries.attribution_rows(warehouse)
    except MissingTable as exc:
        log.warning("no 'who crossed the limit' section: fct_breach_alerts cannot say it (%s)", exc)
        return None
    return [who_row(episode, audit_source_on) for episode in episodes]

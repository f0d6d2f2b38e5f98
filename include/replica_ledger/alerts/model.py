"""Plain data the alerting code works on. No Airflow, no Slack, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from replica_ledger.contract import (
    BREACH_TYPES,
    HPA_MAX_OVER_LIMIT,
    INTRADAY_OVER_LIMIT,
    REPLICAS_OVER_LIMIT,
    UNREGISTERED_DEPLOYMENT,
)
from replica_ledger.settings import Settings

#: Each breach type in plain words, for people reading the alert.
BREACH_TYPE_WORDS: dict[str, str] = {
    REPLICAS_OVER_LIMIT: "Replicas above the approved max",
    HPA_MAX_OVER_LIMIT: "HPA max raised above the approved max",
    UNREGISTERED_DEPLOYMENT: "Deployment not registered in PED",
    INTRADAY_OVER_LIMIT: "Above the approved max between snapshots",
}
#: The breach types whose alert line says who crossed the limit (the audit log's edit).
ATTRIBUTED_BREACH_TYPES: tuple[str, ...] = (HPA_MAX_OVER_LIMIT, INTRADAY_OVER_LIMIT)

EpisodeStatus = Literal["new", "open", "resolved"]
EPISODE_STATUSES: tuple[str, ...] = ("new", "open", "resolved")


@dataclass(frozen=True)
class Crossing:
    """The edit that crossed an episode's limit, and PED's approval of that day, if any."""

    principal: str
    tool: str
    changed_at: datetime  # UTC
    field: str  # max_replicas (the HPA's spec.maxReplicas) or replicas (spec.replicas)
    from_value: int | None
    to_value: int
    #: A PED change of the API approved the same UTC day (the day's latest), if any.
    ped_approved_at: datetime | None = None
    ped_approved_max_replicas: int | None = None

    @property
    def approved_before(self) -> bool:
        """PED approved the change before it was applied: a deploy lag, not a bypass."""
        return self.ped_approved_at is not None and self.ped_approved_at <= self.changed_at


@dataclass(frozen=True)
class Episode:
    """One breach episode of one API (namespace, deployment) on one cluster for one breach type.

    ``status`` is ``new`` on the episode's first day (``is_new_episode``), ``open`` while it
    continues, ``resolved`` when it ended since the last run.
    """

    cluster: str
    namespace: str
    deployment: str
    team: str
    breach_type: str
    observed_value: int
    approved_max_replicas: int | None
    started_on: date
    status: EpisodeStatus
    cpu: float | None = None
    memory_gb: float | None = None
    #: What the excess adds to the monthly bill, priced in dbt (fct_breach_alerts) with the
    #: billing formula; None for an unregistered API or unknown resources.
    excess_monthly_cost: Decimal | None = None
    #: Who crossed the limit (fct_breach_alerts, from the audit log): the last edit by a
    #: person or a pipeline before the episode was seen that took the value above the
    #: approved max. None when no audit source is configured or no audited edit crossed it.
    crossing: Crossing | None = None
    #: The Deployment's HPA on the alert's day (fct_breach_alerts.hpa_name): the object the
    #: kubectl command of an hpa_max_over_limit alert patches. None without one.
    hpa_name: str | None = None

    def __post_init__(self) -> None:
        if self.breach_type not in BREACH_TYPES:
            raise ValueError(f"unknown breach_type {self.breach_type!r}; expected one of {BREACH_TYPES}")
        if self.status not in EPISODE_STATUSES:
            raise ValueError(f"unknown episode status {self.status!r}; expected one of {EPISODE_STATUSES}")

    @property
    def api(self) -> str:
        """The API's name as people know it: ``namespace/deployment``."""
        return f"{self.namespace}/{self.deployment}"

    @property
    def excess_replicas(self) -> int | None:
        """Replicas above the approved max; None when there is no approved max."""
        if self.approved_max_replicas is None:
            return None
        return max(0, int(self.observed_value) - int(self.approved_max_replicas))

    @property
    def key(self) -> tuple[str, str, str, str, date]:
        """The episode's identity: (cluster, namespace, deployment, breach_type, started_on)."""
        return (self.cluster, self.namespace, self.deployment, self.breach_type, self.started_on)

    @property
    def episode_key(self) -> str:
        """:attr:`key` as one string (the ``episode_key`` column of alert_log)."""
        return episode_key(*self.key)


def episode_key(cluster: str, namespace: str, deployment: str, breach_type: str, started_on: date) -> str:
    """``cluster|namespace|deployment|breach_type|YYYY-MM-DD``: an episode as one string.

    Kubernetes names cannot contain ``|``, so the string is unambiguous.
    """
    return "|".join((cluster, namespace, deployment, breach_type, started_on.isoformat()))


def to_announce(episodes: Iterable[Episode], day: date, max_age_days: int) -> list[Episode]:
    """The episodes of day ``day`` a route should hear about if it has not yet.

    A new episode, and also one that is open or resolved on ``day`` but started at most
    ``max_age_days`` before it: a snapshot that arrived late (a re-run, a late file) revealed
    it after its first day's alert. An episode older than that is the past: never announced.
    Whether the route already heard of it is the ledger's question (alert_log).
    """
    oldest = day - timedelta(days=max_age_days)
    return [ep for ep in episodes if ep.status == "new" or ep.started_on >= oldest]


@dataclass
class AlertBatch:
    """Everything one DAG run knows for alerting: the episodes of its snapshot day."""

    snapshot_date: date
    run_id: str
    dag_id: str
    episodes: list[Episode] = field(default_factory=list)
    docs_url: str | None = None
    run_url: str | None = None
    #: False when no audit source is configured: the attributed lines then say so.
    audit_source_on: bool = True
    #: The PED repository page of an API: {namespace} and {deployment} are filled in.
    ped_url_template: str | None = None
    #: The currency every amount is shown in (Settings.currency, REPLICA_LEDGER_CURRENCY).
    currency: str = Settings.currency

    def ped_url(self, ep: Episode) -> str | None:
        """The PED page of the episode's API, or None without a template."""
        if not self.ped_url_template:
            return None
        return self.ped_url_template.format(namespace=ep.namespace, deployment=ep.deployment)


def _to_date(value: object) -> date:
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # datetime -> date
    return date.fromisoformat(str(value)[:10])


def _opt_float(value: object) -> float | None:
    return None if value is None or value == "" else float(value)  # type: ignore[arg-type]


def _opt_money(value: object) -> Decimal | None:
    # str() first: a float from a driver becomes its shortest repr, not its binary expansion.
    return None if value is None or value == "" else Decimal(str(value)).quantize(Decimal("0.01"))


def _utc(value: object) -> datetime | None:
    """A timestamp as naive UTC (BigQuery returns aware ones, DuckDB naive UTC ones)."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _opt_int(value: object) -> int | None:
    return None if value is None or value == "" else int(value)  # type: ignore[call-overload]


def crossing_from_row(row: Mapping[str, Any]) -> Crossing | None:
    """The ``crossed_*`` / ``ped_*`` columns of fct_breach_alerts; None when no edit crossed."""
    if not row.get("crossed_by") or row.get("crossed_at") in (None, ""):
        return None
    return Crossing(
        principal=str(row["crossed_by"]),
        tool=str(row.get("crossed_with") or "other"),
        changed_at=_utc(row["crossed_at"]),  # type: ignore[arg-type]
        field=str(row.get("crossed_field") or ""),
        from_value=_opt_int(row.get("crossed_from_value")),
        to_value=int(row["crossed_to_value"]),
        ped_approved_at=_utc(row.get("ped_approved_at")),
        ped_approved_max_replicas=_opt_int(row.get("ped_approved_max_replicas")),
    )


def episodes_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Episode]:
    """Episodes from query rows (dicts) with the :class:`Episode` field names.

    ``started_on`` may be a date, datetime or ISO string; ``approved_max_replicas``, ``cpu``,
    ``memory_gb`` and ``excess_monthly_cost`` may be None/missing. Unknown keys are ignored.
    """
    out = []
    for row in rows:
        approved = row.get("approved_max_replicas")
        out.append(
            Episode(
                cluster=str(row["cluster"]),
                namespace=str(row["namespace"]),
                deployment=str(row["deployment"]),
                team=str(row.get("team") or row["namespace"]),
                breach_type=str(row["breach_type"]),
                observed_value=int(row["observed_value"]),
                approved_max_replicas=None if approved is None or approved == "" else int(approved),
                started_on=_to_date(row["started_on"]),
                status=str(row["status"]),  # type: ignore[arg-type]
                cpu=_opt_float(row.get("cpu")),
                memory_gb=_opt_float(row.get("memory_gb")),
                excess_monthly_cost=_opt_money(row.get("excess_monthly_cost")),
                crossing=crossing_from_row(row),
                hpa_name=str(row["hpa_name"]) if row.get("hpa_name") else None,
            )
        )
    return out

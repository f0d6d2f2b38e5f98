"""Plain data the alerting code works on. No Airflow, no Slack, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from replica_ledger.contract import (
    BREACH_TYPES,
    HPA_MAX_OVER_LIMIT,
    REPLICAS_OVER_LIMIT,
    UNREGISTERED_DEPLOYMENT,
)

#: Each breach type in plain words, for people reading the alert.
BREACH_TYPE_WORDS: dict[str, str] = {
    REPLICAS_OVER_LIMIT: "Replicas above the approved max",
    HPA_MAX_OVER_LIMIT: "HPA max raised above the approved max",
    UNREGISTERED_DEPLOYMENT: "Deployment not registered in PED",
}

EpisodeStatus = Literal["new", "open", "resolved"]
EPISODE_STATUSES: tuple[str, ...] = ("new", "open", "resolved")


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


def _to_date(value: object) -> date:
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # datetime -> date
    return date.fromisoformat(str(value)[:10])


def _opt_float(value: object) -> float | None:
    return None if value is None or value == "" else float(value)  # type: ignore[arg-type]


def _opt_money(value: object) -> Decimal | None:
    # str() first: a float from a driver becomes its shortest repr, not its binary expansion.
    return None if value is None or value == "" else Decimal(str(value)).quantize(Decimal("0.01"))


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
            )
        )
    return out

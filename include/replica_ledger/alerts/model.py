"""Plain data the alerting code works on. No Airflow, no Slack, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

REPLICAS_OVER_LIMIT = "replicas_over_limit"
HPA_MAX_OVER_LIMIT = "hpa_max_over_limit"
UNREGISTERED_DEPLOYMENT = "unregistered_deployment"

#: The breach types of the data contract (section 3), exact strings.
BREACH_TYPES: tuple[str, ...] = (REPLICAS_OVER_LIMIT, HPA_MAX_OVER_LIMIT, UNREGISTERED_DEPLOYMENT)

#: Each breach type in plain words, for people reading the alert.
BREACH_TYPE_WORDS: dict[str, str] = {
    REPLICAS_OVER_LIMIT: "Replicas above the approved max",
    HPA_MAX_OVER_LIMIT: "HPA max raised above the approved max",
    UNREGISTERED_DEPLOYMENT: "Deployment not registered in PED",
}

EpisodeStatus = Literal["new", "open", "resolved"]
EPISODE_STATUSES: tuple[str, ...] = ("new", "open", "resolved")


@dataclass(frozen=True)
class BillingRates:
    """Billing parameters (contract section 3, "Billing").

    ``charge = base_fee + (vcpu_rate * cpu + memory_rate * memory_gb) * max_replicas / replica_divisor``
    """

    base_fee: float = 180
    vcpu_rate: float = 19
    memory_rate: float = 19
    replica_divisor: float = 4

    def per_replica_charge(self, cpu: float, memory_gb: float) -> float:
        """Monthly charge of one replica of max: ``(vcpu_rate*cpu + memory_rate*memory_gb) / divisor``."""
        return (self.vcpu_rate * cpu + self.memory_rate * memory_gb) / self.replica_divisor

    def monthly_charge(self, cpu: float, memory_gb: float, max_replicas: int) -> float:
        """The contract's monthly charge of one API version."""
        return self.base_fee + self.per_replica_charge(cpu, memory_gb) * max_replicas


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

    def monthly_excess_cost(self, rates: BillingRates) -> float | None:
        """What the excess would cost a month: ``excess * per-replica charge``.

        None when it cannot be computed (unregistered API, or cpu/memory unknown).
        """
        excess = self.excess_replicas
        if excess is None or self.cpu is None or self.memory_gb is None:
            return None
        return excess * rates.per_replica_charge(float(self.cpu), float(self.memory_gb))


@dataclass
class AlertBatch:
    """Everything one DAG run knows for alerting: the episodes of its snapshot day."""

    snapshot_date: date
    run_id: str
    dag_id: str
    episodes: list[Episode] = field(default_factory=list)
    rates: BillingRates = field(default_factory=BillingRates)
    docs_url: str | None = None
    run_url: str | None = None


def _to_date(value: object) -> date:
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # datetime -> date
    return date.fromisoformat(str(value)[:10])


def _opt_float(value: object) -> float | None:
    return None if value is None or value == "" else float(value)  # type: ignore[arg-type]


def episodes_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Episode]:
    """Episodes from query rows (dicts) with the :class:`Episode` field names.

    ``started_on`` may be a date, datetime or ISO string; ``approved_max_replicas``, ``cpu``
    and ``memory_gb`` may be None/missing. Unknown keys are ignored.
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
            )
        )
    return out

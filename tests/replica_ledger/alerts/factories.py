"""Builders of episodes and batches for the alerting tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from replica_ledger.alerts import AlertBatch, Crossing, Episode

SNAPSHOT_DAY = date(2024, 5, 3)


def ep(
    deployment: str = "checkout-api",
    *,
    namespace: str | None = None,
    team: str = "payments",
    breach_type: str = "replicas_over_limit",
    observed: int = 6,
    approved: int | None = 4,
    status: str = "new",
    started_on: date = SNAPSHOT_DAY,
    cluster: str = "prod-eu-1",
    cpu: float | None = 2,
    memory_gb: float | None = 4,
    excess_monthly_cost: Decimal | str | None = "auto",
    crossing: Crossing | None = None,
) -> Episode:
    if excess_monthly_cost == "auto":
        excess_monthly_cost = model_excess_cost(observed, approved, cpu, memory_gb)
    return Episode(
        cluster=cluster,
        namespace=namespace or team,
        deployment=deployment,
        team=team,
        breach_type=breach_type,
        observed_value=observed,
        approved_max_replicas=approved,
        started_on=started_on,
        status=status,
        cpu=cpu,
        memory_gb=memory_gb,
        excess_monthly_cost=excess_monthly_cost,
        crossing=crossing,
    )


def model_excess_cost(observed, approved, cpu, memory_gb) -> Decimal | None:
    """What fct_breach_alerts computes at the default rates (180, 19, 19, 4): test data only,
    the product takes the figure from the model."""
    if approved is None or cpu is None or memory_gb is None:
        return None
    per_replica = (Decimal(19) * Decimal(str(cpu)) + Decimal(19) * Decimal(str(memory_gb))) / 4
    return (per_replica * max(0, observed - approved)).quantize(Decimal("0.01"))


def batch(episodes, *, run_id: str = "scheduled__2024-05-03T00:00:00+00:00", day: date = SNAPSHOT_DAY):
    return AlertBatch(
        snapshot_date=day,
        run_id=run_id,
        dag_id="replica_ledger_daily",
        episodes=list(episodes),
        docs_url="http://localhost:8080/dbt-docs/index.html#!/model/model.replica_ledger.fct_replica_breaches",
        run_url="http://localhost:8080/dags/replica_ledger_daily/runs/scheduled__2024-05-03",
    )


def mixed_batch(**kw):
    """Two teams plus one unknown team; new, open and resolved episodes."""
    return batch(
        [
            ep("checkout-api", team="payments"),
            ep("checkout-api", team="payments", breach_type="hpa_max_over_limit", observed=8),
            ep("refund-worker", team="payments", status="open", started_on=date(2024, 4, 28)),
            ep("ledger-api", team="payments", status="resolved", started_on=date(2024, 4, 30)),
            ep("cart-api", team="orders", observed=5, approved=3, cpu=1, memory_gb=2),
            ep(
                "shadow-svc",
                team="orders",
                breach_type="unregistered_deployment",
                observed=3,
                approved=None,
                cpu=None,
                memory_gb=None,
            ),
            ep("mystery", team="growth", observed=7, approved=4),
        ],
        **kw,
    )

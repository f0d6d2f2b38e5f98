"""The small month the billing-close and month-story tests share: one cluster (gke-eu), two
payments APIs, and PED change rows written as the change log holds them.

- checkout-api: 2 vCPU, 4 GB, its HPA at max 6 (over an approved 4: an hpa_max_over_limit);
- ledger-api: 0.2 vCPU, 1.5 GB (236.525 -> 236.53 at max 7).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from tooling.k8s_objects import deployment_object, hpa_object, kubectl_list

CLUSTER = "gke-eu"


def change(change_id: str, deployment: str, *, max_replicas: int, cpu, memory_gb, changed_at: str) -> str:
    """One PED change row of the payments team, as a line of the change log."""
    row = {
        "change_id": change_id,
        "namespace": "payments",
        "deployment": deployment,
        "team": "payments",
        "min_replicas": 2,
        "max_replicas": max_replicas,
        "cpu": cpu,
        "memory_gb": memory_gb,
        "changed_at": changed_at,
        "action": "upsert",
    }
    return json.dumps(row) + "\n"


def write_day(archive: Path, day: date | str) -> None:
    """The day's snapshot of the cluster, in the archive's dt= layout."""
    items = [
        deployment_object("payments", "checkout-api", replicas=3, cpu=2, memory_gb=4, team="payments"),
        hpa_object("payments", "checkout-api", target="checkout-api", min_replicas=2, max_replicas=6, current=3),
        deployment_object("payments", "ledger-api", replicas=2, cpu=0.2, memory_gb=1.5, team="payments"),
    ]
    folder = archive / f"dt={day.isoformat() if isinstance(day, date) else day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(items)))

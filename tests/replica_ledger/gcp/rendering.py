"""Shared values and helpers of the production-path tests (rendering tasks for a snapshot day)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DAG_FILE = REPO_ROOT / "dags" / "replica_ledger_daily.py"

PROJECT = "acme-ledger-prod"
BUCKET = "acme-ledger-archive"
IMAGE = "europe-docker.pkg.dev/acme-ledger-prod/replica-ledger/collector:1.4.2"
CLUSTERS = ("gke-prod-eu", "gke-prod-us")
GCP_ENV = {
    "REPLICA_LEDGER_ENV": "gcp",
    "REPLICA_LEDGER_GCP_PROJECT": PROJECT,
    "REPLICA_LEDGER_GCS_BUCKET": BUCKET,
    "REPLICA_LEDGER_COLLECTOR_IMAGE": IMAGE,
    "REPLICA_LEDGER_CLUSTERS": ",".join(CLUSTERS),
    "REPLICA_LEDGER_COLLECTOR_KUBECONFIG_SECRET": "replica-ledger-kubeconfig",
    "REPLICA_LEDGER_RAW_SCHEMA": "ledger_raw",
    "REPLICA_LEDGER_BQ_LOCATION": "europe-west1",
    "REPLICA_LEDGER_POD_CPU": "250m",
    "REPLICA_LEDGER_POD_MEMORY": "384Mi",
    "REPLICA_LEDGER_LIVE_TOLERANCE_DAYS": "1",
}
SNAPSHOT_DAY = date(2026, 10, 11)


def template_context(day: date) -> dict:
    """The template variables the production tasks use, as Airflow gives them for logical date `day`."""
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "ds": day.isoformat(),
        "ds_nodash": day.strftime("%Y%m%d"),
        "logical_date": logical,
        "run_id": f"scheduled__{logical.isoformat()}",
    }


def render(task, dag, day: date = SNAPSHOT_DAY):
    """Render a task's templated fields for snapshot day `day` (in place) and return it."""
    task.render_template_fields(template_context(day), jinja_env=dag.get_template_env())
    return task


def unmapped_pods(mapped, dag, day: date = SNAPSHOT_DAY) -> list:
    """One rendered operator per map index of a mapped collector task (expand_kwargs over clusters)."""
    operators = []
    for kwargs in mapped._get_specified_expand_input().value:
        operators.append(render(mapped.unmap(dict(kwargs)), dag, day))
    return operators

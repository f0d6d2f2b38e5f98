"""replica_ledger_daily: snapshot -> load -> dbt -> alert -> bill, once per snapshot day.

Kept thin on purpose: the task groups are built by `replica_ledger.airflow.dag_local`
(with `dag_gcp`'s collector pods when REPLICA_LEDGER_ENV=gcp), and every task body imports
its step when it runs, so parsing this file stays cheap and touches no DB or network.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from replica_ledger.airflow.compat import DAG, CronDataIntervalTimetable
from replica_ledger.airflow.dag_local import build_daily
from replica_ledger.airflow.deadline import dag_deadline_kwargs
from replica_ledger.airflow.failure import failure_notifier
from replica_ledger.settings import load_settings

DAG_ID = "replica_ledger_daily"
SETTINGS = load_settings()  # environment variables only: free at parse time

DOC_MD = """
### replica_ledger_daily

One run per **snapshot day D** (logical date D 00:00 UTC, started just after midnight at
the end of D on Airflow 2.11 and 3.x alike, through an explicit data-interval timetable).

1. **snapshot** - the day's cluster snapshots: a live capture only for the current day;
   a past day (backfill) only reads the archive. A missing file is recorded as a gap.
2. **load** - replaces day D in the raw tables and reloads the PED change log (idempotent).
3. **transform** - `dbt build` for D: SCD2 limits, daily fact, breaches, episodes, gaps.
4. **alert** - new breach episodes go to Slack (or the outbox); backfills never post.
5. **billing** - closes every month whose last day the run has reached and that is not
   closed yet (a missed month-end run is made up by the next run), and restates a closed
   line that changed (late PED row, rate correction) as a new statement version.
6. **docs** - refreshes the dbt docs (lineage, Browse > dbt Docs) for the current day's
   run and for each closed month; a failure here never holds back alerts or billing.

Runbook: `docs/operations.md` in the repository. Data contract: `shared/spec/CONTRACT.md`.
"""

default_args = {
    "owner": "data-platform",
    "retries": SETTINGS.retries,
    "retry_delay": timedelta(seconds=SETTINGS.retry_delay_seconds),
    # The platform route; production has no outbox, so a missing connection is logged there.
    "on_failure_callback": failure_notifier(SETTINGS.slack_conn_id, production=SETTINGS.gcp is not None),
}

with DAG(
    dag_id=DAG_ID,
    description="Snapshot Deployments/HPAs, compare with PED limits, alert on breaches, bill monthly.",
    doc_md=DOC_MD,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    dagrun_timeout=timedelta(hours=3),
    tags=["replica-ledger", "kubernetes", "billing"],
    # The capture deadline (REPLICA_LEDGER_CAPTURE_DEADLINE_HOURS): a deadline alert on 3.x, an SLA on 2.11.
    **dag_deadline_kwargs(SETTINGS),
) as dag:
    build_daily(SETTINGS)

"""The daily pipeline's steps, under the names the DAG's tasks, the scripts and the tests call.

The steps live in `replica_ledger.steps` (snapshot, load, build, billing), each a plain
function of `(Settings, day)` returning a small JSON-serializable summary (it goes to XCom
and to the task log), testable without Airflow. This module only gathers their public
names in one place, so the callers do not need to know which step module holds which.
"""

from __future__ import annotations

from replica_ledger.steps.billing import (
    BILLING_MODELS,
    billing_due,
    build_billing,
    closed_months,
    is_month_end,
)
from replica_ledger.steps.build import build_day, rebuild, run_summary
from replica_ledger.steps.load import archive_store, load_day, window_days_back
from replica_ledger.steps.snapshot import take_snapshot

__all__ = [
    "BILLING_MODELS",
    "archive_store",
    "billing_due",
    "build_billing",
    "build_day",
    "closed_months",
    "is_month_end",
    "load_day",
    "rebuild",
    "run_summary",
    "take_snapshot",
    "window_days_back",
]

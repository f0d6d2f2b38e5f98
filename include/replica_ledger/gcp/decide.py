"""Current day or past day: whether a run may take a live snapshot (contract §3 "Backfills").

Only the run for the current snapshot day (within REPLICA_LEDGER_LIVE_TOLERANCE_DAYS) and
not a backfill starts the collector pods. Any other run only reads the archive: it loads
the day's archived object if it exists and records a gap if it does not.
"""

from __future__ import annotations

import logging
from datetime import date

from replica_ledger import pipeline

log = logging.getLogger(__name__)

CAPTURE = "capture"
ARCHIVE_ONLY = "archive_only"


def snapshot_source(day: date, tolerance_days: int, *, backfill: bool, today: date | None = None) -> str:
    """CAPTURE for the current day's regular run, ARCHIVE_ONLY for a past day or a backfill."""
    if backfill:
        return ARCHIVE_ONLY
    return CAPTURE if pipeline.is_current_day(day, tolerance_days, today) else ARCHIVE_ONLY


def choose_snapshot_branch(
    day: date,
    backfill: bool,
    tolerance_days: int,
    capture_task: str,
    archive_task: str,
    today: date | None = None,
) -> str:
    """The branch task's answer: the mapped collector pods, or straight to the archive."""
    source = snapshot_source(day, tolerance_days, backfill=backfill, today=today)
    log.info("snapshot day %s: %s", day, source)
    return capture_task if source == CAPTURE else archive_task

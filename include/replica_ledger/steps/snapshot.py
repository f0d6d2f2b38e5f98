"""The snapshot step: make sure the archive holds what exists for the run's day."""

from __future__ import annotations

import logging
from datetime import date

from replica_ledger.settings import Settings

log = logging.getLogger(__name__)


def take_snapshot(settings: Settings, day: date, *, live_allowed: bool) -> dict:
    """Make sure the archive holds what exists for `day`, and say which clusters are missing.

    A live capture happens only when the run is for the current day and a cluster
    connection is configured; a past day only ever reads the archive.
    """
    from replica_ledger.raw.day import expected_clusters
    from replica_ledger.raw.layout import ARCHIVE
    from replica_ledger.raw.stores import LocalStore

    captured: list[str] = []
    if live_allowed and settings.kubeconfig and settings.clusters:
        captured = capture_live(settings, day)
    snapshots = ARCHIVE.snapshots_until(LocalStore(settings.archive_dir), day)
    files = snapshots.get(day, {})
    clusters = expected_clusters(settings.clusters, snapshots)
    summary = {
        "snapshot_date": day.isoformat(),
        "live_capture": bool(captured),
        "clusters_expected": clusters,
        "clusters_found": sorted(files),
        "clusters_missing": [cluster for cluster in clusters if cluster not in files],
    }
    log.info("snapshot %s: %s", day, summary)
    return summary


def capture_live(settings: Settings, day: date) -> list[str]:
    """Run the collector once per configured cluster (kubeconfig context = cluster name)."""
    from replica_ledger.collector.__main__ import main as collect

    captured = []
    for cluster in settings.clusters:
        argv = [
            "--cluster",
            cluster,
            "--output",
            str(settings.archive_dir),
            "--kubeconfig",
            settings.kubeconfig,
            "--context",
            cluster,
            "--date",
            day.isoformat(),
        ]
        if collect(argv) != 0:
            raise RuntimeError(f"collector failed for cluster {cluster}")
        captured.append(cluster)
    return captured

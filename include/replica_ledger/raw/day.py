"""A day of the archive -> raw rows, streamed into a sink: the one loader of both paths.

Every expected cluster gets one `snapshot_manifest` row: `loaded`, `unreadable` (with the
error), or `missing` (a gap). A `loaded` row has an `error` too when its meta file was
rejected (another cluster, or a capture time outside the day's window): the snapshot is
then judged at the default capture time. Expected clusters follow one rule, locally and on GCP alike:
the configured clusters, plus every cluster the archive shows on or before the day. A
cluster, once seen, is expected every day after, so a cluster whose collector stops is a
gap, not silence; a hand-dropped snapshot of a new cluster is loaded, and expected from
then on. "Seen on or before" comes from one listing of the archive that stops at the day
(`ArchiveLayout.snapshots_until`), which also gives the day's files.

Rows go to the sink in batches while the file is read, so memory does not grow with the
file. A file that turns out unreadable half-way has its rows dropped from the sink
(`discard_cluster`) and is recorded as unreadable: nothing half-loaded, nothing lost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from replica_ledger import archive
from replica_ledger.raw.layout import ARCHIVE, ArchiveLayout, clusters_seen
from replica_ledger.raw.record import LOAD_RECORD
from replica_ledger.raw.stores import ObjectNotFound, ObjectRefused, ObjectStore

log = logging.getLogger(__name__)

OBJECT_TABLES = ("k8s_deployments", "k8s_hpas", "k8s_rejects")
MANIFEST = "snapshot_manifest"
# Written by write_audit_rows (empty without an audit source); counted in DayLoad.rows too.
AUDIT_EVENTS, AUDIT_REJECTS = "k8s_audit_events", "k8s_audit_rejects"
# Rows per batch handed to a sink: ~10 MB of Python dicts, and few enough round trips.
BATCH_ROWS = 10_000


class DaySink(Protocol):
    """Receives one day's raw rows; the sink replaces the day when it is committed."""

    def begin_cluster(self, cluster: str) -> None:
        """The rows that follow are the cluster's (until the next begin_cluster)."""

    def write(self, table: str, rows: list[dict]) -> None: ...

    def discard_cluster(self, cluster: str) -> None:
        """Drop every row written for `cluster` since its begin_cluster (its file was bad)."""


@dataclass
class DayLoad:
    """What a day's load wrote: the manifest rows and the row count per table."""

    snapshot_date: date
    manifest: list[dict]
    rows: dict[str, int] = field(default_factory=dict)

    def statuses(self) -> dict[str, str]:
        return {row["cluster"]: row["status"] for row in self.manifest}


def naive_utc(moment: datetime) -> datetime:
    """The warehouse keeps timestamps as naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def manifest_row(day: date, cluster: str, status: str, **fields) -> dict:
    row = {
        "snapshot_date": day,
        "cluster": cluster,
        "status": status,
        "captured_at": None,
        "source_uri": None,
        "source_sha256": None,
        "deployment_count": 0,
        "hpa_count": 0,
        "rejected_count": 0,
        "error": None,
    }
    row.update(fields)
    return row


def expected_clusters(configured: Iterable[str], snapshots: dict[date, dict[str, str]]) -> list[str]:
    """Configured clusters, plus every cluster with a snapshot in `snapshots` (days up to the load day)."""
    return sorted(set(configured) | clusters_seen(snapshots))


def write_day_rows(
    store: ObjectStore,
    day: date,
    configured_clusters: Iterable[str],
    sink: DaySink,
    *,
    layout: ArchiveLayout = ARCHIVE,
    batch_rows: int = BATCH_ROWS,
) -> DayLoad:
    """Stream every raw row of `day` into `sink`, manifest last; returns what was written."""
    snapshots = layout.snapshots_until(store, day)
    files = snapshots.get(day, {})
    load = DayLoad(day, [], dict.fromkeys((*OBJECT_TABLES, MANIFEST, AUDIT_EVENTS, AUDIT_REJECTS, LOAD_RECORD), 0))
    for cluster in expected_clusters(configured_clusters, snapshots):
        name = files.get(cluster)
        row = (
            manifest_row(day, cluster, "missing")
            if name is None
            else _write_cluster(store, layout, day, cluster, name, sink, batch_rows, load.rows)
        )
        load.manifest.append(row)
    misnamed = _misnamed_rejects(store, layout, day)
    if misnamed:
        sink.begin_cluster("")
        sink.write(archive.REJECTS, misnamed)
        load.rows[archive.REJECTS] += len(misnamed)
    sink.write(MANIFEST, load.manifest)
    load.rows[MANIFEST] = len(load.manifest)
    return load


# item_index of a reject row that stands for a whole file (its objects were never read).
WHOLE_FILE = -1


def _misnamed_rejects(store: ObjectStore, layout: ArchiveLayout, day: date) -> list[dict]:
    """A reject row per snapshot file of `day` whose name is not a cluster name, under that
    name (it is in no cluster's manifest row, and expected on no later day)."""
    rows = []
    for name, reason in layout.misnamed(store.list(layout.day_folder(day))).items():
        log.warning("%s", reason)
        stem = layout.snapshot_stem(name) or ""
        rows.append(
            {
                "snapshot_date": day,
                "cluster": stem,
                "item_index": WHOLE_FILE,
                "kind": None,
                "reason": reason,
                "item_json": None,
            }
        )
    return rows


def _write_cluster(
    store: ObjectStore,
    layout: ArchiveLayout,
    day: date,
    cluster: str,
    name: str,
    sink: DaySink,
    batch_rows: int,
    totals: dict[str, int],
) -> dict:
    """One cluster's file into the sink; its manifest row."""
    uri = store.url(name)
    sink.begin_cluster(cluster)
    try:
        meta_name = layout.meta_name(day, cluster)
        capture = archive.capture_from_meta(meta_name.rsplit("/", 1)[-1], store.read(meta_name), day, cluster)
        captured_at = capture.captured_at
        stamp = _Stamp(day, cluster, naive_utc(captured_at))
        classifier = archive.ItemClassifier()
        items, counts = _stream_file(store, name, stamp, sink, batch_rows, classifier)
        if classifier.found:
            # Objects with one identity: what was written goes, and a second read rejects them all.
            sink.discard_cluster(cluster)
            sink.begin_cluster(cluster)
            classifier = archive.ItemClassifier(classifier.found)
            items, counts = _stream_file(store, name, stamp, sink, batch_rows, classifier)
            if classifier.found:
                raise archive.SnapshotUnreadable(f"{name}: the file changed while it was read")
    except ObjectNotFound:
        sink.discard_cluster(cluster)
        log.warning("snapshot %s disappeared while the day was loaded: a gap", uri)
        return manifest_row(day, cluster, "missing")
    except (archive.SnapshotUnreadable, ObjectRefused) as exc:
        sink.discard_cluster(cluster)
        log.error("snapshot %s unreadable: %s", uri, exc)
        return manifest_row(day, cluster, "unreadable", source_uri=uri, error=str(exc))
    for table, count in counts.items():
        totals[table] += count
    if capture.meta_error:
        # The snapshot is used, at the default capture time; the rejected meta file stays visible.
        log.warning("snapshot %s: %s", uri, capture.meta_error)
    return manifest_row(
        day,
        cluster,
        "loaded",
        captured_at=naive_utc(captured_at),
        source_uri=uri,
        source_sha256=items.sha256,
        deployment_count=counts["k8s_deployments"],
        hpa_count=counts["k8s_hpas"],
        rejected_count=counts["k8s_rejects"],
        error=capture.meta_error,
    )


@dataclass(frozen=True)
class _Stamp:
    """The columns every object row of a cluster's file shares."""

    day: date
    cluster: str
    captured_at: datetime

    def apply(self, table: str, row: dict) -> dict:
        row["snapshot_date"] = self.day
        row["cluster"] = self.cluster
        if table != archive.REJECTS:  # a reject is not a capture of an object
            row["captured_at"] = self.captured_at
        return row


def _stream_file(
    store: ObjectStore, name: str, stamp: _Stamp, sink: DaySink, batch_rows: int, classifier: archive.ItemClassifier
) -> tuple[archive.SnapshotItems, dict[str, int]]:
    with store.open(name) as stream:
        items = archive.SnapshotItems(stream, name.rsplit("/", 1)[-1])
        return items, _stream_rows(items, stamp, sink, batch_rows, classifier)


def _stream_rows(
    items: archive.SnapshotItems, stamp: _Stamp, sink: DaySink, batch_rows: int, classifier: archive.ItemClassifier
) -> dict[str, int]:
    batches: dict[str, list[dict]] = {table: [] for table in OBJECT_TABLES}
    counts = dict.fromkeys(OBJECT_TABLES, 0)
    for index, item in enumerate(items):
        table, row = classifier.classify(index, item)
        batch = batches[table]
        batch.append(stamp.apply(table, row))
        counts[table] += 1
        if len(batch) >= batch_rows:
            sink.write(table, batch)
            batches[table] = []
    for table, batch in batches.items():
        if batch:
            sink.write(table, batch)
    return counts


def write_load_record(record_row: dict, load: DayLoad, sink: DaySink) -> None:
    """The day's load record (raw.record) into `sink`, with the day's rows."""
    sink.write(LOAD_RECORD, [record_row])
    load.rows[LOAD_RECORD] = 1


def write_audit_rows(audit_log, load: DayLoad, excluded_namespaces: tuple[str, ...], sink: DaySink) -> dict:
    """The day's audit write rows and rejects (replica_ledger.audit) into `sink`, counted in `load`.

    `audit_log` is an `audit.log.AuditSource` (local files or the log sink's table;
    `warehouse.open_audit_source`). Without an audit source nothing is written, so the day's
    audit tables are emptied: the same day load replaces them, whether a source is
    configured or not.
    """
    if audit_log is None:
        return {"configured": False}
    day = load.snapshot_date
    audit = audit_log.read_day(day, excluded_namespaces)
    sink.write(AUDIT_EVENTS, audit.events)
    sink.write(AUDIT_REJECTS, audit.rejects)
    load.rows[AUDIT_EVENTS], load.rows[AUDIT_REJECTS] = len(audit.events), len(audit.rejects)
    if audit.rejects:
        log.warning("audit log %s, %s: %d entries quarantined", audit_log, day, len(audit.rejects))
    return {"configured": True, **audit.summary()}

"""One snapshot: list the cluster into <output>/dt=<date>/<cluster>.json[.gz], then the meta file."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import BinaryIO

from replica_ledger import clock
from replica_ledger.collector.destination import Destination, open_destination
from replica_ledger.collector.errors import CollectorError, ListExpired
from replica_ledger.collector.kube import ResourceLister, build_api_client
from replica_ledger.collector.resources import SNAPSHOT_RESOURCES, ListedResource
from replica_ledger.collector.settings import CollectorSettings
from replica_ledger.collector.snapshot_file import ListWriter, open_sink
from replica_ledger.contract import is_dns1123_label
from replica_ledger.http_retry import Deadline

log = logging.getLogger(__name__)


def validate_cluster_name(name: str) -> str:
    """Cluster names become file names the loader accepts only as DNS-1123 labels (no path
    separators, no hidden files, no ".meta" suffix that would clash with a meta file)."""
    if not is_dns1123_label(name):
        raise ValueError(
            f"invalid cluster name {name!r}: a DNS-1123 label (lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return name


def default_snapshot_date(captured_at: datetime) -> date:
    """The day a capture closes: the last UTC calendar day that had fully ended when it started.

    CONTRACT.md 1.1: the snapshot of day D is taken at the end of D, normally minutes after
    midnight UTC, so a capture at 2026-10-12T00:04:31Z is dt=2026-10-11. A capture at any
    time on UTC day D+1 is dt=D; there is no cut-off hour.
    """
    return captured_at.astimezone(UTC).date() - timedelta(days=1)


def format_rfc3339_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshot_relative_name(snapshot_date: date, cluster: str, gzip: bool) -> str:
    return f"dt={snapshot_date.isoformat()}/{cluster}.json" + (".gz" if gzip else "")


def meta_relative_name(snapshot_date: date, cluster: str) -> str:
    return f"dt={snapshot_date.isoformat()}/{cluster}.meta.json"


@dataclass(frozen=True)
class SnapshotRequest:
    cluster: str
    output: str
    kubeconfig: str | None = None
    context: str | None = None
    snapshot_date: date | None = None


@dataclass
class SnapshotResult:
    data_url: str
    meta_url: str
    snapshot_date: date
    captured_at: datetime
    item_counts: dict[str, int] = field(default_factory=dict)


def collect_snapshot(
    request: SnapshotRequest,
    settings: CollectorSettings,
    now: datetime | None = None,
    deadline: Deadline | None = None,
) -> SnapshotResult:
    """List, write and publish one snapshot, all within `deadline` (settings.deadline_s from now by default)."""
    deadline = deadline or Deadline(settings.deadline_s)
    # captured_at is when listing starts: every object is read at or after this moment.
    captured_at = (now or clock.now()).replace(microsecond=0)
    snapshot_date = request.snapshot_date or default_snapshot_date(captured_at)
    destination = open_destination(request.output, deadline)
    gzip = destination.gzip_required or settings.gzip_local
    item_counts: dict[str, int] = {}

    with build_api_client(request.kubeconfig, request.context) as api_client:
        lister = ResourceLister(api_client, settings, deadline)

        def write_list(file: BinaryIO) -> None:
            writer = ListWriter(open_sink(file, gzip))
            writer.begin()
            for resource in SNAPSHOT_RESOURCES:
                item_counts[resource.qualified_name] = _write_resource(writer, lister, resource, settings)
            writer.finish()

        data_url = destination.publish(snapshot_relative_name(snapshot_date, request.cluster, gzip), write_list)

    # After the data file, so a meta file never announces a snapshot that is not there.
    meta_url = _publish_meta(destination, snapshot_date, request.cluster, captured_at)
    return SnapshotResult(data_url, meta_url, snapshot_date, captured_at, item_counts)


def _write_resource(
    writer: ListWriter,
    lister: ResourceLister,
    resource: ListedResource,
    settings: CollectorSettings,
) -> int:
    """Stream every page of one resource; after a 410, drop what was written and list it anew."""
    start = writer.checkpoint()
    listings = settings.max_list_restarts + 1
    for _ in range(listings):
        try:
            pages = 0
            for items in lister.iter_pages(resource):
                writer.add_page(resource, items)
                pages += 1
        except ListExpired:
            log.warning(
                "continue token for %s expired (410 Gone) after %d pages; listing again from the start",
                resource.qualified_name,
                pages,
            )
            writer.rewind(start)
            continue
        count = writer.items_written - start.items_written
        log.info("listed %d %s in %d pages", count, resource.qualified_name, pages)
        return count
    raise CollectorError(
        f"giving up listing {resource.qualified_name}: continue token expired (410 Gone) "
        f"in {listings} consecutive listings; the cluster changes faster than it can be paged "
        "(raise REPLICA_LEDGER_COLLECTOR_PAGE_SIZE)"
    )


def _publish_meta(destination: Destination, snapshot_date: date, cluster: str, captured_at: datetime) -> str:
    meta = {"cluster": cluster, "captured_at": format_rfc3339_utc(captured_at)}
    content = json.dumps(meta).encode() + b"\n"
    return destination.publish(meta_relative_name(snapshot_date, cluster), lambda file: file.write(content))

"""A day's archive objects on GCS -> NDJSON rows per raw table on GCS, for BigQuery load jobs.

BigQuery cannot load a kubectl List (one big JSON document) row by row, so the Composer
worker parses each cluster's object of the day with the same parser as the local path
(`replica_ledger.archive`) and writes one newline-delimited JSON object per raw table:

    gs://<bucket>/snapshots/dt=<day>/<cluster>.json.gz   (the collector's archive, input)
    gs://<bucket>/raw/<table>/dt=<day>/rows.jsonl         (this module's output)

Every expected cluster gets a `snapshot_manifest` row: loaded, unreadable, or missing (a
gap). Every table's object is written, empty when the day has no rows, so the load jobs
that follow (WRITE_TRUNCATE of the day's partition) always replace the whole day and a
re-run is exact. Expected clusters: the configured ones plus any other cluster whose file
is in the day's folder (a hand-dropped snapshot is loaded too).
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from replica_ledger import archive
from replica_ledger.pipeline import _manifest_row, _naive_utc, _stamp
from replica_ledger.warehouse import DAY_TABLES, RAW_TABLES

log = logging.getLogger(__name__)


class ObjectStore(Protocol):
    """The few object operations staging needs; names are relative to one bucket."""

    def list(self, prefix: str) -> list[str]: ...

    def read(self, name: str) -> bytes | None:
        """The object's bytes, or None if it does not exist."""

    def write(self, name: str, data: bytes, content_type: str) -> None: ...

    def url(self, name: str) -> str: ...


class GcsStore:
    """A bucket through the Google provider's GCSHook (the Composer worker's credentials)."""

    def __init__(self, bucket: str, gcp_conn_id: str = "google_cloud_default") -> None:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        self.bucket = bucket
        self.hook = GCSHook(gcp_conn_id=gcp_conn_id)

    def list(self, prefix: str) -> list[str]:
        return list(self.hook.list(self.bucket, prefix=prefix))

    def read(self, name: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return self.hook.download(bucket_name=self.bucket, object_name=name)
        except NotFound:
            return None

    def write(self, name: str, data: bytes, content_type: str) -> None:
        self.hook.upload(bucket_name=self.bucket, object_name=name, data=data, mime_type=content_type)

    def url(self, name: str) -> str:
        return f"gs://{self.bucket}/{name}"


class DirectoryStore:
    """The same layout in a local folder (tests, dry runs): objects are files under `root`."""

    def __init__(self, root: Path, bucket: str = "local") -> None:
        self.root = Path(root)
        self.bucket = bucket

    def list(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            return []
        names = (path.relative_to(self.root).as_posix() for path in self.root.rglob("*") if path.is_file())
        return sorted(name for name in names if name.startswith(prefix))

    def read(self, name: str) -> bytes | None:
        path = self.root / name
        return path.read_bytes() if path.is_file() else None

    def write(self, name: str, data: bytes, content_type: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".tmp")
        temp.write_bytes(data)
        temp.replace(path)

    def url(self, name: str) -> str:
        return f"gs://{self.bucket}/{name}"


# --------------------------------------------------------------------------- reading


def day_snapshot_objects(store: ObjectStore, snapshot_prefix: str, day: date) -> dict[str, str]:
    """cluster -> object name for one day. A plain .json wins over a .json.gz twin (as locally)."""
    folder = f"{snapshot_prefix}/dt={day.isoformat()}/"
    found: dict[str, str] = {}
    for name in sorted(store.list(folder)):
        base = name[len(folder) :]
        if "/" in base or base.endswith(archive.META_SUFFIX):
            continue
        for suffix in archive.SNAPSHOT_SUFFIXES[::-1]:
            if base.endswith(suffix):
                cluster = base[: -len(suffix)]
                if cluster and (cluster not in found or suffix == ".json"):
                    found[cluster] = name
                break
    return found


def collect_day_rows(
    store: ObjectStore, snapshot_prefix: str, day: date, clusters: tuple[str, ...] | list[str]
) -> dict[str, list[dict]]:
    """Raw rows of every table for `day`; a missing object is a gap, a bad one is 'unreadable'."""
    rows: dict[str, list[dict]] = {table: [] for table in ("k8s_deployments", "k8s_hpas", "k8s_rejects")}
    manifest: list[dict] = []
    objects = day_snapshot_objects(store, snapshot_prefix, day)
    for cluster in sorted(set(clusters) | set(objects)):
        name = objects.get(cluster)
        data = store.read(name) if name else None
        if data is None:
            manifest.append(_manifest_row(day, cluster, "missing"))
            continue
        uri = store.url(name)
        meta_name = f"{snapshot_prefix}/dt={day.isoformat()}/{cluster}{archive.META_SUFFIX}"
        try:
            captured_at = archive.captured_at_from_meta(meta_name.rsplit("/", 1)[-1], store.read(meta_name), day)
            snapshot = archive.parse_snapshot_bytes(name, data, cluster, day, captured_at, uri)
        except archive.SnapshotUnreadable as exc:
            log.error("snapshot %s unreadable: %s", uri, exc)
            manifest.append(_manifest_row(day, cluster, "unreadable", source_uri=uri, error=str(exc)))
            continue
        rows["k8s_deployments"] += _stamp(snapshot.deployments, snapshot)
        rows["k8s_hpas"] += _stamp(snapshot.hpas, snapshot)
        rows["k8s_rejects"] += _stamp(snapshot.rejects, snapshot, with_capture=False)
        manifest.append(
            _manifest_row(
                day,
                cluster,
                "loaded",
                captured_at=_naive_utc(snapshot.captured_at),
                source_uri=uri,
                source_sha256=snapshot.source_sha256,
                deployment_count=len(snapshot.deployments),
                hpa_count=len(snapshot.hpas),
                rejected_count=len(snapshot.rejects),
            )
        )
    rows["snapshot_manifest"] = manifest
    return rows


# --------------------------------------------------------------------------- writing


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):  # naive UTC (warehouse convention); BigQuery reads it as UTC
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_ndjson(table: str, rows: list[dict]) -> bytes:
    """One JSON object per line with exactly the table's columns (RAW_TABLES order)."""
    columns = RAW_TABLES[table]
    lines = (json.dumps({name: _json_value(row.get(name)) for name in columns}, separators=(",", ":")) for row in rows)
    return "".join(line + "\n" for line in lines).encode()


def stage_day(store: ObjectStore, gcp, day: date) -> dict:
    """Parse the day's archive objects and write every raw table's NDJSON object for it."""
    rows = collect_day_rows(store, gcp.snapshot_prefix, day, gcp.clusters)
    objects = {}
    for table in DAY_TABLES:
        name = gcp.raw_object(table, day.isoformat())
        store.write(name, to_ndjson(table, rows[table]), "application/x-ndjson")
        objects[table] = store.url(name)
    manifest = rows["snapshot_manifest"]
    summary = {
        "snapshot_date": day.isoformat(),
        "clusters": {row["cluster"]: row["status"] for row in manifest},
        "gaps": [row["cluster"] for row in manifest if row["status"] != "loaded"],
        "rows": {table: len(rows[table]) for table in DAY_TABLES},
        "objects": objects,
    }
    log.info("staged %s: %s", day, summary)
    return summary


def stage_raw_rows(context: dict[str, Any]) -> dict:
    """Airflow task body: stage the run's day from the bucket of the environment's settings."""
    from replica_ledger.airflow_tasks import snapshot_day
    from replica_ledger.gcp.settings import load_gcp_settings

    gcp = load_gcp_settings()
    return stage_day(GcsStore(gcp.bucket, gcp.gcp_conn_id), gcp, snapshot_day(context))

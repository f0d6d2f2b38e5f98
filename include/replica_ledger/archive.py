"""Read the cluster snapshot archive (contract §1.1) and flatten it into warehouse rows.

The archive is the single interchange format: the collector writes it, a person can drop
a hand-captured `kubectl get ... -o json` file into it, and the loader reads it. Each
object becomes one typed row; an object we cannot use becomes a reject row with a reason,
so nothing is silently lost.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

SNAPSHOT_SUFFIXES = (".json", ".json.gz")
META_SUFFIX = ".meta.json"


class SnapshotUnreadable(ValueError):
    """The snapshot file exists but is not a usable kubectl List."""


@dataclass
class ParsedSnapshot:
    cluster: str
    snapshot_date: date
    captured_at: datetime
    source_uri: str
    source_sha256: str
    deployments: list[dict] = field(default_factory=list)
    hpas: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)


def day_dir(archive_dir: Path, day: date) -> Path:
    return archive_dir / f"dt={day.isoformat()}"


def _cluster_name(path: Path) -> str | None:
    name = path.name
    if name.endswith(META_SUFFIX):
        return None
    for suffix in SNAPSHOT_SUFFIXES[::-1]:  # ".json.gz" before ".json"
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def snapshot_files(archive_dir: Path, day: date) -> dict[str, Path]:
    """Map cluster -> snapshot file for one day. A plain .json wins over a .json.gz twin."""
    folder = day_dir(archive_dir, day)
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        cluster = _cluster_name(path)
        if cluster and (cluster not in found or path.suffix == ".json"):
            found[cluster] = path
    return found


def clusters_seen_until(archive_dir: Path, day: date) -> set[str]:
    """Clusters that have a snapshot on or before `day`: from then on a missing day is a gap."""
    seen: set[str] = set()
    if not archive_dir.is_dir():
        return seen
    for folder in archive_dir.glob("dt=*"):
        try:
            folder_day = date.fromisoformat(folder.name[3:])
        except ValueError:
            continue
        if folder_day <= day:
            seen.update(snapshot_files(archive_dir, folder_day))
    return seen


def default_captured_at(day: date) -> datetime:
    """Without a meta file, the snapshot counts as taken at the end of its day (contract §1.1)."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=UTC)


def parse_rfc3339(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return parsed.astimezone(UTC)


def captured_at_from_meta(meta_name: str, meta_bytes: bytes | None, day: date) -> datetime:
    """`captured_at` of a meta file's content; without one, the end of the day (contract §1.1)."""
    if meta_bytes is None:
        return default_captured_at(day)
    try:
        meta = json.loads(meta_bytes)
        return parse_rfc3339(meta["captured_at"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotUnreadable(f"{meta_name}: captured_at unreadable ({exc})") from exc


def read_captured_at(snapshot_path: Path, cluster: str, day: date) -> datetime:
    meta_path = snapshot_path.parent / f"{cluster}{META_SUFFIX}"
    meta_bytes = meta_path.read_bytes() if meta_path.exists() else None
    return captured_at_from_meta(meta_path.name, meta_bytes, day)


def decode_snapshot_bytes(name: str, data: bytes) -> bytes:
    """The JSON bytes of a snapshot file's content (gunzipped when the name ends in .gz)."""
    if name.endswith(".gz"):
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise SnapshotUnreadable(f"{name}: not valid gzip ({exc})") from exc
    return data


def _load_list(name: str, data: bytes) -> list:
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise SnapshotUnreadable(f"{name}: malformed JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise SnapshotUnreadable(f"{name}: not a kubectl List (no 'items' array)")
    return document["items"]


def _int_or_none(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    raise ValueError(f"expected an integer, got {value!r}")


def _count(value) -> int:
    """Kubernetes omits zero-valued status counters, so absent means 0."""
    parsed = _int_or_none(value)
    return 0 if parsed is None else parsed


def _identity(item: dict) -> tuple[str, str]:
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        raise ValueError("missing metadata")
    namespace, name = metadata.get("namespace"), metadata.get("name")
    if not namespace or not isinstance(namespace, str):
        raise ValueError("missing metadata.namespace")
    if not name or not isinstance(name, str):
        raise ValueError("missing metadata.name")
    return namespace, name


def deployment_row(item: dict) -> dict:
    namespace, name = _identity(item)
    metadata, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
    strategy = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    spec_replicas = _int_or_none(spec.get("replicas"))
    return {
        "namespace": namespace,
        "deployment": name,
        "uid": metadata.get("uid"),
        "team_label": (metadata.get("labels") or {}).get("team"),
        "generation": _int_or_none(metadata.get("generation")),
        "observed_generation": _int_or_none(status.get("observedGeneration")),
        # The API server defaults spec.replicas to 1; a hand-written file may omit it.
        "spec_replicas": 1 if spec_replicas is None else spec_replicas,
        "status_replicas": _count(status.get("replicas")),
        "ready_replicas": _count(status.get("readyReplicas")),
        "available_replicas": _count(status.get("availableReplicas")),
        "updated_replicas": _count(status.get("updatedReplicas")),
        "unavailable_replicas": _count(status.get("unavailableReplicas")),
        "max_surge": None if strategy.get("maxSurge") is None else str(strategy.get("maxSurge")),
    }


def hpa_row(item: dict) -> dict:
    namespace, name = _identity(item)
    spec, status = item.get("spec") or {}, item.get("status") or {}
    target = spec.get("scaleTargetRef") or {}
    max_replicas = _int_or_none(spec.get("maxReplicas"))
    if max_replicas is None:
        raise ValueError("missing spec.maxReplicas")
    if not target.get("name"):
        raise ValueError("missing spec.scaleTargetRef.name")
    min_replicas = _int_or_none(spec.get("minReplicas"))
    return {
        "namespace": namespace,
        "hpa": name,
        "api_version": item.get("apiVersion"),
        "target_kind": target.get("kind"),
        "target_name": target.get("name"),
        "min_replicas": 1 if min_replicas is None else min_replicas,
        "max_replicas": max_replicas,
        "current_replicas": _int_or_none(status.get("currentReplicas")),
        "desired_replicas": _int_or_none(status.get("desiredReplicas")),
    }


ROW_BUILDERS = {"Deployment": ("deployments", deployment_row), "HorizontalPodAutoscaler": ("hpas", hpa_row)}


def _reject(index: int, item, reason: str) -> dict:
    kind = item.get("kind") if isinstance(item, dict) else None
    return {
        "item_index": index,
        "kind": kind,
        "reason": reason,
        "item_json": json.dumps(item, sort_keys=True)[:20000],
    }


def classify_items(items: Iterable, snapshot: ParsedSnapshot) -> None:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            snapshot.rejects.append(_reject(index, item, "item is not an object"))
            continue
        target = ROW_BUILDERS.get(item.get("kind"))
        if target is None:
            snapshot.rejects.append(_reject(index, item, f"unexpected kind {item.get('kind')!r}"))
            continue
        bucket, build = target
        try:
            getattr(snapshot, bucket).append(build(item))
        except ValueError as exc:
            snapshot.rejects.append(_reject(index, item, str(exc)))


def parse_snapshot_bytes(
    name: str, data: bytes, cluster: str, day: date, captured_at: datetime, source_uri: str
) -> ParsedSnapshot:
    """Parse one snapshot file's content (read from disk or from GCS); `name` only decides gzip."""
    data = decode_snapshot_bytes(name, data)
    snapshot = ParsedSnapshot(
        cluster=cluster,
        snapshot_date=day,
        captured_at=captured_at,
        source_uri=source_uri,
        source_sha256=hashlib.sha256(data).hexdigest(),
    )
    classify_items(_load_list(name, data), snapshot)
    return snapshot


def parse_snapshot(path: Path, cluster: str, day: date) -> ParsedSnapshot:
    """Parse one cluster's file for one day; raises SnapshotUnreadable if unusable as a whole."""
    captured_at = read_captured_at(path, cluster, day)
    return parse_snapshot_bytes(path.name, path.read_bytes(), cluster, day, captured_at, str(path))

"""Read the cluster snapshot archive (contract §1.1) and flatten it into warehouse rows.

The archive is the single interchange format: the collector writes it, a person can drop
a hand-captured `kubectl get ... -o json` file into it, and the loader reads it. Each
object becomes one typed row; an object we cannot use becomes a reject row with a reason,
so nothing is silently lost.

A snapshot is read as a stream: `SnapshotItems` walks the kubectl List's `items` array one
object at a time (json.JSONDecoder.raw_decode over chunks of text), so memory stays flat
whatever the file's size. Where the files are, and which one of a cluster counts, is
`replica_ledger.raw.layout`.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from replica_ledger.contract import MAX_GENERATION, MAX_REPLICA_COUNT, is_dns1123_label, is_dns1123_subdomain

# Characters of JSON text decoded per read: a chunk holds hundreds of objects.
CHUNK_BYTES = 1024 * 1024
REJECT_JSON_MAX_CHARS = 20000

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Digits of the longest integer read as a number: Python refuses to convert one of more than
# 4,300 digits (a ValueError that would make the whole file unreadable), and no count of a
# real object comes near. A longer one is kept as text and its object rejected.
MAX_INTEGER_DIGITS = 40


class OversizedInteger(str):
    """A JSON integer too long to be a count, as its text."""


def _parse_int(text: str) -> int | OversizedInteger:
    return OversizedInteger(text) if len(text) > MAX_INTEGER_DIGITS else int(text)


_DECODER = json.JSONDecoder(parse_int=_parse_int)


class SnapshotUnreadable(ValueError):
    """The snapshot file exists but is not a usable kubectl List."""


@dataclass
class ParsedSnapshot:
    """One snapshot file read into lists (tests and small tools; the loader streams instead)."""

    cluster: str
    snapshot_date: date
    captured_at: datetime
    source_uri: str
    source_sha256: str
    deployments: list[dict] = field(default_factory=list)
    hpas: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    meta_error: str | None = None


# --------------------------------------------------------------------------- capture time


def default_captured_at(day: date) -> datetime:
    """Without a meta file, the snapshot counts as taken at the end of its day (contract §1.1)."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=UTC)


def parse_rfc3339(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class Capture:
    """When a snapshot was taken, and why its meta file was not believed (if it was not)."""

    captured_at: datetime
    meta_error: str | None = None


def capture_window(day: date) -> tuple[datetime, datetime]:
    """`[dt 00:00Z, dt + 2 days 00:00Z)`: the capture times a meta file of day `dt` may give."""
    start = datetime.combine(day, time(0, 0), tzinfo=UTC)
    return start, start + timedelta(days=2)


def capture_from_meta(meta_name: str, meta_bytes: bytes | None, day: date, cluster: str) -> Capture:
    """The capture time of `cluster`'s snapshot of `day` (contract §1.1).

    Without a meta file: the end of the day. A meta file that cannot be read makes the
    snapshot unreadable (SnapshotUnreadable). A readable one that names another cluster, or
    a `captured_at` outside `capture_window(day)` (a wrong `--date`, a clock in 2099), is
    rejected: its reason is returned and the default applies, so limits are never looked up
    at a time that has nothing to do with the day.
    """
    default = default_captured_at(day)
    if meta_bytes is None:
        return Capture(default)
    try:
        meta = json.loads(meta_bytes)
        captured_at = parse_rfc3339(meta["captured_at"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotUnreadable(f"{meta_name}: captured_at unreadable ({exc})") from exc
    named = meta.get("cluster")
    fallback = f"; captured_at taken as {default:%Y-%m-%dT%H:%M:%SZ} (end of the day)"
    if named is not None and named != cluster:
        return Capture(default, f"{meta_name} rejected: cluster {named!r} is not {cluster!r}{fallback}")
    start, end = capture_window(day)
    if not start <= captured_at < end:
        return Capture(
            default,
            f"{meta_name} rejected: captured_at {captured_at:%Y-%m-%dT%H:%M:%SZ} is outside "
            f"[{start:%Y-%m-%dT%H:%MZ}, {end:%Y-%m-%dT%H:%MZ}) for dt={day.isoformat()}{fallback}",
        )
    return Capture(captured_at)


# --------------------------------------------------------------------------- streaming parse


class _HashingReader:
    """Passes reads through and keeps the sha256 of every byte read (the JSON bytes of the file)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int) -> bytes:
        data = self._stream.read(size)
        self.digest.update(data)
        return data


def _needs_more_text(exc: json.JSONDecodeError, text_length: int) -> bool:
    """Whether a decode error may only mean that the value goes on in the next chunk."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= text_length - 8


class _JsonText:
    """JSON text read chunk by chunk; values are decoded one at a time from a moving window."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._text = ""
        self._pos = 0
        self._eof = False
        self._bytes_read = 0

    def _fill(self, at_least: int = 0) -> bool:
        """Read more text; False once the stream is exhausted."""
        if self._eof:
            return False
        self._text = self._text[self._pos :]  # drop what was consumed
        self._pos = 0
        data = self._stream.read(max(CHUNK_BYTES, at_least))
        pending = self._decoder.getstate()[0]  # bytes of a character cut by the last chunk
        try:
            if not data:
                self._text += self._decoder.decode(b"", final=True)
                self._eof = True
                return False
            self._text += self._decoder.decode(data)
        except UnicodeDecodeError as exc:
            # Where in the file, not in the chunk: a person can find the byte.
            at = self._bytes_read - len(pending) + exc.start
            if self._bytes_read == 0 and data.startswith(codecs.BOM_UTF8):
                at += len(codecs.BOM_UTF8)  # utf-8-sig decodes the first chunk without its mark
            raise ValueError(f"not UTF-8: byte 0x{exc.object[exc.start]:02x} at byte {at} of the file") from None
        finally:
            self._bytes_read += len(data)
        return True

    def peek(self) -> str:
        """The next non-whitespace character ('' at the end), not consumed."""
        while True:
            self._pos = _WHITESPACE.match(self._text, self._pos).end()
            if self._pos < len(self._text):
                return self._text[self._pos]
            if not self._fill():
                return ""

    def take(self, expected: str) -> None:
        found = self.peek()
        if found != expected:
            raise ValueError(f"expected {expected!r}, found {found or 'the end of the file'!r}")
        self._pos += 1

    def value(self) -> Any:
        """Decode the next JSON value whole (one item: a few KB)."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as exc:
                if _needs_more_text(exc, len(self._text)) and self._fill(len(self._text)):
                    continue  # the value is cut by the chunk boundary: read on (doubling)
                raise
            if end == len(self._text) and self._fill():
                continue  # a number at the very end may go on in the next chunk
            self._pos = end
            return value


def _list_items(text: _JsonText) -> Iterator[Any]:
    """The elements of the `items` array of a top-level JSON object, one at a time."""
    if text.peek() != "{":
        text.value()  # valid JSON that is not an object, or a decode error
        raise SnapshotUnreadable("not a kubectl List (no 'items' array)")
    text.take("{")
    seen_items = False
    while text.peek() != "}":
        key = text.value()
        if not isinstance(key, str):
            raise ValueError("object keys must be strings")
        text.take(":")
        if key == "items":
            if seen_items:
                raise SnapshotUnreadable("not a kubectl List (two 'items' arrays)")
            seen_items = True
            if text.peek() != "[":
                text.value()
                raise SnapshotUnreadable("not a kubectl List ('items' is not an array)")
            yield from _array_elements(text)
        else:
            text.value()  # apiVersion, kind, metadata: not needed
        if text.peek() != ",":
            break
        text.take(",")
    text.take("}")
    if text.peek():
        raise ValueError("extra data after the top-level object")
    if not seen_items:
        raise SnapshotUnreadable("not a kubectl List (no 'items' array)")


def _array_elements(text: _JsonText) -> Iterator[Any]:
    text.take("[")
    if text.peek() == "]":
        text.take("]")
        return
    while True:
        yield text.value()
        if text.peek() == "]":
            text.take("]")
            return
        text.take(",")


class SnapshotItems:
    """The items of one snapshot file, read as a stream; raises SnapshotUnreadable on a bad file.

    `sha256` is the digest of the file's JSON bytes (gunzipped), known once the items have
    been read to the end. A file that turns out bad half-way raises after some items were
    yielded: the caller drops what it took from that file.
    """

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.name = name
        self._gzip = name.endswith(".gz")
        self._reader = _HashingReader(gzip.GzipFile(fileobj=stream, mode="rb") if self._gzip else stream)

    @property
    def sha256(self) -> str:
        return self._reader.digest.hexdigest()

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from _list_items(_JsonText(self._reader))
        except SnapshotUnreadable as exc:
            raise SnapshotUnreadable(f"{self.name}: {exc}") from exc
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            if not self._gzip:
                raise
            raise SnapshotUnreadable(f"{self.name}: not valid gzip ({exc})") from exc
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, structure errors
            raise SnapshotUnreadable(f"{self.name}: malformed JSON ({exc})") from exc


# --------------------------------------------------------------------------- rows


def _int_or_none(value, field_name: str, upper: int = MAX_REPLICA_COUNT) -> int | None:
    """An optional count, bounded where it is read: a JSON integer in 0..upper (the Kubernetes
    type's range), so no value of one object can fail the warehouse insert of the whole day."""
    if value is None:
        return None
    if isinstance(value, OversizedInteger):
        raise ValueError(f"{field_name} {_shown(value)} is above {upper}, the largest the Kubernetes API allows")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {_shown(value)}")
    if value < 0:
        raise ValueError(f"negative {field_name}: {value}")
    if value > upper:
        raise ValueError(f"{field_name} {_shown(value)} is above {upper}, the largest the Kubernetes API allows")
    return value


def _shown(value) -> str:
    """A value for a reason, cut short (a 10,000-digit integer is still one line)."""
    text = str(value) if isinstance(value, OversizedInteger | int) and not isinstance(value, bool) else repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _count(value, field_name: str) -> int:
    """Kubernetes omits zero-valued status counters, so absent means 0."""
    parsed = _int_or_none(value, field_name)
    return 0 if parsed is None else parsed


def _identity(item: dict) -> tuple[str, str]:
    """(namespace, name), both valid Kubernetes names: anything else cannot be a real object."""
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        raise ValueError("missing metadata")
    namespace, name = metadata.get("namespace"), metadata.get("name")
    if not namespace or not isinstance(namespace, str):
        raise ValueError("missing metadata.namespace")
    if not name or not isinstance(name, str):
        raise ValueError("missing metadata.name")
    if not is_dns1123_label(namespace):
        raise ValueError(f"metadata.namespace {namespace[:80]!r} is not a DNS-1123 label of at most 63 characters")
    if not is_dns1123_subdomain(name):
        raise ValueError(f"metadata.name {name[:80]!r} is not a DNS-1123 subdomain of at most 253 characters")
    return namespace, name


def _replica_count(value, field_name: str) -> int:
    """A required, non-negative replica count."""
    count = _int_or_none(value, field_name)
    if count is None:
        raise ValueError(f"missing {field_name}")
    return count


def deployment_row(item: dict) -> dict:
    namespace, name = _identity(item)
    metadata, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
    strategy = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    # The API server always sets spec.replicas (default 1). A file without it, or with a
    # negative count, was edited by hand: guessing would invent a desired count, and one
    # below status.replicas would look like a rollout and hide a breach.
    spec_replicas = _replica_count(spec.get("replicas"), "spec.replicas")
    return {
        "namespace": namespace,
        "deployment": name,
        "uid": metadata.get("uid"),
        "team_label": (metadata.get("labels") or {}).get("team"),
        "generation": _int_or_none(metadata.get("generation"), "metadata.generation", MAX_GENERATION),
        "observed_generation": _int_or_none(
            status.get("observedGeneration"), "status.observedGeneration", MAX_GENERATION
        ),
        "spec_replicas": spec_replicas,
        "status_replicas": _count(status.get("replicas"), "status.replicas"),
        "ready_replicas": _count(status.get("readyReplicas"), "status.readyReplicas"),
        "available_replicas": _count(status.get("availableReplicas"), "status.availableReplicas"),
        "updated_replicas": _count(status.get("updatedReplicas"), "status.updatedReplicas"),
        "unavailable_replicas": _count(status.get("unavailableReplicas"), "status.unavailableReplicas"),
        "max_surge": None if strategy.get("maxSurge") is None else str(strategy.get("maxSurge")),
    }


def hpa_row(item: dict) -> dict:
    namespace, name = _identity(item)
    spec, status = item.get("spec") or {}, item.get("status") or {}
    target = spec.get("scaleTargetRef") or {}
    max_replicas = _replica_count(spec.get("maxReplicas"), "spec.maxReplicas")
    if not target.get("name"):
        raise ValueError("missing spec.scaleTargetRef.name")
    min_replicas = _int_or_none(spec.get("minReplicas"), "spec.minReplicas")
    return {
        "namespace": namespace,
        "hpa": name,
        "api_version": item.get("apiVersion"),
        "target_kind": target.get("kind"),
        "target_name": target.get("name"),
        "min_replicas": 1 if min_replicas is None else min_replicas,
        "max_replicas": max_replicas,
        "current_replicas": _int_or_none(status.get("currentReplicas"), "status.currentReplicas"),
        "desired_replicas": _int_or_none(status.get("desiredReplicas"), "status.desiredReplicas"),
    }


# kind -> (raw table, row builder)
ROW_BUILDERS = {
    "Deployment": ("k8s_deployments", deployment_row),
    "HorizontalPodAutoscaler": ("k8s_hpas", hpa_row),
}
REJECTS = "k8s_rejects"


def _reject(index: int, item, reason: str) -> dict:
    kind = item.get("kind") if isinstance(item, dict) else None
    return {
        "item_index": index,
        "kind": kind,
        "reason": reason,
        "item_json": json.dumps(item, sort_keys=True)[:REJECT_JSON_MAX_CHARS],
    }


def classify_item(index: int, item) -> tuple[str, dict]:
    """(raw table, row) of one List item: its typed row, or a reject row with the reason."""
    if not isinstance(item, dict):
        return REJECTS, _reject(index, item, "item is not an object")
    target = ROW_BUILDERS.get(item.get("kind"))
    if target is None:
        return REJECTS, _reject(index, item, f"unexpected kind {item.get('kind')!r}")
    table, build = target
    try:
        return table, build(item)
    except ValueError as exc:
        return REJECTS, _reject(index, item, str(exc))


_NAME_COLUMN = {"k8s_deployments": "deployment", "k8s_hpas": "hpa"}
_KIND_OF_TABLE = {table: kind for kind, (table, _) in ROW_BUILDERS.items()}


class ItemClassifier:
    """`classify_item` over the items of one file, watching for repeated identities.

    Two objects of one kind with the same (namespace, name) in one file cannot both be the
    object: neither is used, both become rejects naming each other (one loaded at random
    would be a guess, and two would break the day's key). A file is read once with
    `ItemClassifier()`; if `found` is not empty, it is read again with
    `ItemClassifier(found)`, which rejects every member of each repeated identity.
    """

    def __init__(self, duplicates: dict[tuple[str, str, str], list[int]] | None = None) -> None:
        self.duplicates = duplicates or {}
        self.found: dict[tuple[str, str, str], list[int]] = {}
        self._first: dict[tuple[str, str, str], int] = {}

    def classify(self, index: int, item) -> tuple[str, dict]:
        table, row = classify_item(index, item)
        if table == REJECTS:
            return table, row
        key = (table, row["namespace"], row[_NAME_COLUMN[table]])
        indices = self.duplicates.get(key)
        if indices is not None:
            kind, namespace, name = _KIND_OF_TABLE[table], key[1], key[2]
            listed = ", ".join(str(number) for number in indices)
            reason = (
                f"duplicate {kind} {namespace}/{name}: items {listed} of the file have the same namespace "
                "and name; none of them is used"
            )
            return REJECTS, _reject(index, item, reason)
        first = self._first.setdefault(key, index)
        if first != index:
            self.found.setdefault(key, [first]).append(index)
        return table, row


# --------------------------------------------------------------------------- one local file


def snapshot_files(archive_dir: Path, day: date) -> dict[str, Path]:
    """cluster -> the snapshot file that counts for `day` in a local archive folder."""
    from replica_ledger.raw.layout import ARCHIVE
    from replica_ledger.raw.stores import LocalStore

    picked = ARCHIVE.pick_snapshots(LocalStore(archive_dir).list(ARCHIVE.day_folder(day)))
    return {cluster: archive_dir / name for cluster, name in picked.get(day, {}).items()}


def parse_snapshot(path: Path, cluster: str, day: date) -> ParsedSnapshot:
    """Parse one cluster's local file for one day into lists; raises SnapshotUnreadable if unusable."""
    from replica_ledger.raw.layout import ARCHIVE

    meta_path = path.parent / Path(ARCHIVE.meta_name(day, cluster)).name
    meta_bytes = meta_path.read_bytes() if meta_path.exists() else None
    capture = capture_from_meta(meta_path.name, meta_bytes, day, cluster)
    classifier = ItemClassifier()
    for _ in range(2):  # a second read when the first found repeated identities
        buckets = {"k8s_deployments": [], "k8s_hpas": [], REJECTS: []}
        with path.open("rb") as stream:
            items = SnapshotItems(stream, path.name)
            for index, item in enumerate(items):
                table, row = classifier.classify(index, item)
                buckets[table].append(row)
        if not classifier.found:
            break
        classifier = ItemClassifier(classifier.found)
    return ParsedSnapshot(
        cluster=cluster,
        snapshot_date=day,
        captured_at=capture.captured_at,
        source_uri=str(path),
        source_sha256=items.sha256,
        deployments=buckets["k8s_deployments"],
        hpas=buckets["k8s_hpas"],
        rejects=buckets[REJECTS],
        meta_error=capture.meta_error,
    )

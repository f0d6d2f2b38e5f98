"""The archive file itself: a kubectl-style v1 List, written one page at a time.

Layout (CONTRACT.md 1.1), one item per line so the file stays greppable:

    {"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":[
    {"apiVersion":"apps/v1","kind":"Deployment","metadata":{...},...},
    ...
    ]}

A resource whose continue token expires (410) must be listed again from the start, so
the writer can rewind to a checkpoint, including inside a gzip stream.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from replica_ledger.collector.resources import ListedResource

LIST_HEAD = b'{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":['
LIST_TAIL = b"\n]}\n"
GZIP_LEVEL = 6  # zlib's default: most of level 9's ratio at a fraction of its CPU
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip container rather than a raw zlib stream
# One encoder for all items: json.dumps with options builds a new one per call. UTF-8 as is,
# like kubectl, and compact, one item per line.
_ITEM_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...
    def mark(self) -> Any: ...
    def rewind(self, mark: Any) -> None: ...
    def finish(self) -> None: ...


class PlainSink:
    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def mark(self) -> int:
        return self._file.tell()

    def rewind(self, mark: int) -> None:
        self._file.seek(mark)
        self._file.truncate()

    def finish(self) -> None:
        self._file.flush()


class GzipSink:
    """Compresses on the fly; a mark is the file offset plus a copy of the compressor state.

    Rewinding truncates the file to the offset and resumes from the copied state, which
    yields exactly the stream that would exist had the discarded bytes never been written.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)

    def write(self, data: bytes) -> None:
        self._file.write(self._compressor.compress(data))

    def mark(self) -> tuple[int, Any]:
        return self._file.tell(), self._compressor.copy()

    def rewind(self, mark: tuple[int, Any]) -> None:
        offset, compressor = mark
        self._file.seek(offset)
        self._file.truncate()
        # Copy again so the same mark survives a second rewind.
        self._compressor = compressor.copy()

    def finish(self) -> None:
        self._file.write(self._compressor.flush())
        self._file.flush()


def open_sink(file: BinaryIO, gzip: bool) -> Sink:
    return GzipSink(file) if gzip else PlainSink(file)


@dataclass(frozen=True)
class Checkpoint:
    sink_mark: Any
    items_written: int


class ListWriter:
    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._items_written = 0

    @property
    def items_written(self) -> int:
        return self._items_written

    def begin(self) -> None:
        self._sink.write(LIST_HEAD)

    def add_page(self, resource: ListedResource, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        lines = [_encode_item(resource, item) for item in items]
        separator = b",\n" if self._items_written else b"\n"
        self._sink.write(separator + b",\n".join(lines))
        self._items_written += len(items)

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self._sink.mark(), self._items_written)

    def rewind(self, checkpoint: Checkpoint) -> None:
        self._sink.rewind(checkpoint.sink_mark)
        self._items_written = checkpoint.items_written

    def finish(self) -> None:
        self._sink.write(LIST_TAIL)
        self._sink.finish()


def _encode_item(resource: ListedResource, item: dict[str, Any]) -> bytes:
    # kubectl hides managedFields unless --show-managed-fields; they are also a third of the bytes.
    metadata = item.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    # List items come without apiVersion/kind; kubectl puts them first, so do we.
    stamped = {"apiVersion": resource.api_version, "kind": resource.kind}
    stamped.update(item)
    stamped["apiVersion"] = resource.api_version
    stamped["kind"] = resource.kind
    return _ITEM_ENCODER.encode(stamped).encode()

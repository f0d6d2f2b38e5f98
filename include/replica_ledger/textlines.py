"""Lines of an outside text file (the PED change log, the audit log), read as bytes and bounded.

A line is decoded as strict UTF-8: a byte that is not UTF-8 (a Latin-1 `é`) is never turned
into a replacement character, which would change the content silently; the line is handed
back with `error` naming the line, the byte and its offset, and its text with the bad bytes
shown as `\\xe9`. A line longer than `max_bytes` is never held in memory whole: the reader
skips to its end and hands back its start with `error` set. A byte order mark at the start
of the file is encoding, not content.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Bytes of a line kept for its reject row when the line is too long to be read.
SHOWN_BYTES = 2000
_SKIP_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class TextLine:
    """One line: its number (from 1), its text (stripped), and why it cannot be read (or None)."""

    number: int
    text: str
    error: str | None = None


def _shown(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace").strip()


def read_lines(stream: BinaryIO, max_bytes: int, what: str = "line") -> Iterator[TextLine]:
    """Every line of `stream` (blank ones too: the caller skips them, numbers stay true)."""
    offset = 0
    number = 0
    while True:
        data = stream.readline(max_bytes + 1)
        if not data:
            return
        number += 1
        start = offset
        offset += len(data)
        if number == 1 and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
            start += len(codecs.BOM_UTF8)
        if len(data) > max_bytes and not data.endswith(b"\n"):
            skipped = _skip_to_line_end(stream)
            offset += skipped
            yield TextLine(
                number,
                _shown(data[:SHOWN_BYTES]),
                f"{what} {number} is longer than {max_bytes} bytes ({len(data) + skipped} or more); not read",
            )
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield TextLine(
                number,
                _shown(data),
                f"not UTF-8: byte 0x{data[exc.start]:02x} at byte {exc.start} of {what} {number} "
                f"(byte {start + exc.start} of the file)",
            )
            continue
        yield TextLine(number, text.strip())


def _skip_to_line_end(stream: BinaryIO) -> int:
    """Read on to the end of the current line in bounded pieces; the bytes skipped."""
    skipped = 0
    while True:
        data = stream.readline(_SKIP_CHUNK)
        skipped += len(data)
        if not data or data.endswith(b"\n"):
            return skipped

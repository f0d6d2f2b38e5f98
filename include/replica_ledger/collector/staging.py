"""What every destination shares: the write callback, staged temp files, the gs:// scheme.

Its own module so that destination.py (which picks a destination) and gcs.py (one of them)
both import it rather than each other.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from replica_ledger.collector.errors import CollectorError

GCS_SCHEME = "gs://"
_WRITE_BUFFER_BYTES = 1 << 20

WriteContent = Callable[[BinaryIO], None]


@contextlib.contextmanager
def staged_file(directory: Path, final_name: str) -> Iterator[tuple[BinaryIO, Path]]:
    """An open temp file in `directory`, deleted afterwards unless it was renamed away."""
    try:
        fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{final_name}.", suffix=".tmp")
    except OSError as exc:
        raise CollectorError(f"cannot write to {directory}: {exc}") from exc
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "wb", buffering=_WRITE_BUFFER_BYTES) as file:
            yield file, temp_path
    finally:
        temp_path.unlink(missing_ok=True)

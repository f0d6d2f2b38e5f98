"""Where snapshot files go: a local archive folder or a gs:// prefix, never half-written.

Each file is written completely under a temporary name first. Locally the temp file sits
in the final folder and is renamed over the final name (atomic on POSIX); on GCS the
finished temp file is uploaded, and GCS makes an object visible only once its upload has
completed, so readers see the old object, the new one, or none: never a partial one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from replica_ledger.collector.errors import CollectorError
from replica_ledger.collector.staging import GCS_SCHEME, WriteContent, staged_file
from replica_ledger.fsync import fsync_directory
from replica_ledger.http_retry import Deadline


class Destination(Protocol):
    gzip_required: bool

    def publish(self, relative_name: str, write_content: WriteContent) -> str:
        """Write a file via `write_content`, then make it appear under its name; returns its URL."""
        ...


def open_destination(output: str, deadline: Deadline | None = None) -> Destination:
    """The destination for --output; uploads to GCS give up when `deadline` runs out."""
    if output.startswith(GCS_SCHEME):
        from replica_ledger.collector.gcs import GcsDestination  # the GCS client is only needed here

        return GcsDestination.from_url(output, deadline=deadline)
    return LocalDestination(Path(output))


class LocalDestination:
    gzip_required = False

    def __init__(self, root: Path) -> None:
        self._root = root

    def publish(self, relative_name: str, write_content: WriteContent) -> str:
        final_path = self._root / relative_name
        try:
            final_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CollectorError(f"cannot create {final_path.parent}: {exc}") from exc
        with staged_file(final_path.parent, final_path.name) as (file, temp_path):
            write_content(file)
            file.flush()
            os.fsync(file.fileno())
            # mkstemp creates 0600; archive readers (Airflow workers, people) need read access.
            os.chmod(temp_path, 0o644)
            os.replace(temp_path, final_path)
        fsync_directory(final_path.parent)
        return str(final_path)

"""Durable renames: a file moved into place survives a crash only once its folder is synced.

Shared by the collector (its local archive destination; the image copies this module) and the
PED JSON Lines log.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Persist a rename inside ``directory``, so a crash right after cannot resurrect the old entry."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

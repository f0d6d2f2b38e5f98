"""The snapshot archive layout (contract §1.1), written down once.

    [<prefix>/]dt=YYYY-MM-DD/<cluster>.json        a kubectl List, or
    [<prefix>/]dt=YYYY-MM-DD/<cluster>.json.gz     the same, gzipped
    [<prefix>/]dt=YYYY-MM-DD/<cluster>.meta.json   {"captured_at": ...} (optional)

Names here are relative to the archive root of an object store (`stores`), so the same
rules read a local folder and a GCS bucket. When a cluster has both a plain and a gzipped
file on one day, the plain one wins: a person who fixes a snapshot by hand drops a plain
.json next to the collector's .json.gz, and that correction is what gets loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from replica_ledger.contract import is_dns1123_label

DAY_FOLDER_PREFIX = "dt="
PLAIN_SUFFIX = ".json"
GZIP_SUFFIX = ".json.gz"
META_SUFFIX = ".meta.json"


class Lister(Protocol):
    def list(self, prefix: str, end_before: str | None = None) -> Iterable[str]: ...


@dataclass(frozen=True)
class ArchiveLayout:
    """Where a day's files are, what they are called, and which one of a cluster counts."""

    def day_folder(self, day: date) -> str:
        return f"{DAY_FOLDER_PREFIX}{day.isoformat()}/"

    def snapshot_name(self, day: date, cluster: str, *, gzip: bool = False) -> str:
        return f"{self.day_folder(day)}{cluster}{GZIP_SUFFIX if gzip else PLAIN_SUFFIX}"

    def meta_name(self, day: date, cluster: str) -> str:
        return f"{self.day_folder(day)}{cluster}{META_SUFFIX}"

    def day_of(self, name: str) -> date | None:
        """The day of an object name `dt=YYYY-MM-DD/...`; None for anything else."""
        folder, slash, _ = name.partition("/")
        if not slash or not folder.startswith(DAY_FOLDER_PREFIX):
            return None
        try:
            return date.fromisoformat(folder[len(DAY_FOLDER_PREFIX) :])
        except ValueError:
            return None

    def snapshot_stem(self, name: str) -> str | None:
        """What a snapshot file name says before `.json` / `.json.gz`, checked or not; None for a
        meta file, a sub-folder or anything else."""
        _, slash, base = name.partition("/")
        if not slash or "/" in base or base.endswith(META_SUFFIX):
            return None
        for suffix in (GZIP_SUFFIX, PLAIN_SUFFIX):
            if base.endswith(suffix):
                return base[: -len(suffix)]
        return None

    def cluster_of(self, name: str) -> str | None:
        """The cluster a snapshot file belongs to: its stem when that is a cluster name (a
        DNS-1123 label); None for a misnamed file (`misnamed`), a meta file or anything else."""
        stem = self.snapshot_stem(name)
        return stem if is_dns1123_label(stem) else None

    def misnamed(self, names: Iterable[str]) -> dict[str, str]:
        """name -> why, for each snapshot file whose stem is not a cluster name (`gke eu.json`,
        `GKE-EU.json`, `...json`): such a file is a reject of its day, never a new cluster."""
        found = {}
        for name in sorted(names):
            stem = self.snapshot_stem(name)
            if stem is not None and not is_dns1123_label(stem):
                # The why first: a report shows the start of a reason.
                found[name] = (
                    f"{stem[:80]!r} is not a cluster name (a DNS-1123 label: lower-case letters, digits and '-', "
                    f"starting and ending with a letter or digit, at most 63 characters): snapshot file {name!r} "
                    "not loaded"
                )
        return found

    def is_gzip(self, name: str) -> bool:
        return name.endswith(".gz")

    def pick_snapshots(self, names: Iterable[str]) -> dict[date, dict[str, str]]:
        """day -> cluster -> the snapshot object that counts (a plain .json wins over its .json.gz twin)."""
        picked: dict[date, dict[str, str]] = {}
        for name in sorted(names):
            day, cluster = self.day_of(name), self.cluster_of(name)
            if day is None or cluster is None:
                continue
            clusters = picked.setdefault(day, {})
            if cluster not in clusters or not name.endswith(".gz"):
                clusters[cluster] = name
        return picked

    def snapshots_until(self, store: Lister, day: date) -> dict[date, dict[str, str]]:
        """Every snapshot object of `day` and the days before, from ONE listing of the store.

        The listing stops before `dt=<day + 1>` (ISO dates sort like the days), so later
        days cost nothing. On GCS this is one name-only `objects.list` paged 1,000 names
        at a time: a year of 10 clusters (a data file and a meta file each, per day) is
        about 7,300 names, 8 pages, well under a second or two. If the archive ever
        grows past that, `snapshot_manifest` in the warehouse is the index to read
        instead (the clusters it recorded as loaded before the day).
        """
        end_before = f"{DAY_FOLDER_PREFIX}{(day + timedelta(days=1)).isoformat()}"
        return self.pick_snapshots(store.list(DAY_FOLDER_PREFIX, end_before=end_before))

    def days(self, store: Lister) -> list[date]:
        """The days that have at least one snapshot file."""
        return sorted(self.pick_snapshots(store.list(DAY_FOLDER_PREFIX)))


ARCHIVE = ArchiveLayout()


def clusters_seen(snapshots: dict[date, dict[str, str]]) -> set[str]:
    """Every cluster with a snapshot in `snapshots` (from `snapshots_until`)."""
    return {cluster for clusters in snapshots.values() for cluster in clusters}

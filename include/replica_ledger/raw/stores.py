"""Where the snapshot archive lives: a local folder or a GCS bucket, behind one small protocol.

Object names are relative to the archive root (a folder, or `gs://bucket/prefix`) and use
`/` as separator, so `raw.layout` reads both the same way. Snapshot files are opened as
streams: a 200 MB kubectl List is never held in memory as a whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

# GCS range reads of this size: large enough to keep the request count low, small enough
# that the buffer stays a small part of a Composer worker's memory.
GCS_READ_CHUNK_BYTES = 8 * 1024 * 1024


class ObjectNotFound(FileNotFoundError):
    """The object named does not exist (it may have been listed, then deleted)."""


class ObjectRefused(PermissionError):
    """The object is not read: its name leads out of the archive (a symbolic link to a file
    elsewhere, a `..`), into a link loop, or the file cannot be opened. The day goes on."""


class ObjectStore(Protocol):
    def list(self, prefix: str, end_before: str | None = None) -> Iterator[str]:
        """Names that start with `prefix` and sort before `end_before`, in name order."""

    def open(self, name: str) -> BinaryIO:
        """A binary stream of the object's bytes, as stored; raises ObjectNotFound."""

    def read(self, name: str) -> bytes | None:
        """A small object's bytes, or None if it does not exist."""

    def url(self, name: str) -> str:
        """How the object is named in the warehouse (`snapshot_manifest.source_uri`)."""

    def versions(self, prefix: str) -> dict[str, str]:
        """name -> version of every object under `prefix`, from one listing: the version
        changes whenever the object's bytes may have (the load record compares them)."""


def _wanted(name: str, prefix: str, end_before: str | None) -> bool:
    return name.startswith(prefix) and (end_before is None or name < end_before)


class LocalStore:
    """The archive in a local folder; `url` is the name relative to the folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def list(self, prefix: str, end_before: str | None = None) -> Iterator[str]:
        if not self.root.is_dir():
            return iter(())
        return iter(sorted(self._walk(prefix, end_before)))

    def _walk(self, prefix: str, end_before: str | None) -> Iterator[str]:
        for folder, subfolders, files in os.walk(self.root):
            relative = Path(folder).relative_to(self.root).as_posix()
            base = "" if relative == "." else f"{relative}/"
            # Prune folders that cannot hold a wanted name (a year of days is 365 folders).
            subfolders[:] = [
                sub
                for sub in subfolders
                if (f"{base}{sub}/".startswith(prefix) or prefix.startswith(f"{base}{sub}/"))
                and (end_before is None or f"{base}{sub}/" < end_before)
            ]
            yield from (f"{base}{file}" for file in files if _wanted(f"{base}{file}", prefix, end_before))

    def _inside(self, name: str) -> Path:
        """The path of `name`, once it is known to stay in the folder: a symbolic link is
        followed only when its target is inside the archive, so no file elsewhere is read."""
        path = self.root / name
        root = self.root.resolve()
        try:
            target = path.resolve()
        except (RuntimeError, OSError):  # a link loop (RuntimeError on Python 3.11)
            raise ObjectRefused(f"{name} is a symbolic link that cannot be resolved (a loop?); not read") from None
        if target != root and root not in target.parents:
            linked = [part for part in (path, *path.parents) if part != self.root and self.root in part.parents]
            how = "a symbolic link" if any(part.is_symlink() for part in linked) else "a path"
            raise ObjectRefused(f"{name} is {how} to a file outside the archive folder; not read")
        return path

    def open(self, name: str) -> BinaryIO:
        path = self._inside(name)
        try:
            return path.open("rb")
        except FileNotFoundError as exc:
            raise ObjectNotFound(name) from exc
        except OSError as exc:  # no permission, a folder named like a file, ...
            raise ObjectRefused(f"{name} cannot be opened ({exc.strerror}); not read") from None

    def read(self, name: str) -> bytes | None:
        path = self._inside(name)
        if not path.is_file():
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ObjectRefused(f"{name} cannot be read ({exc.strerror}); not read") from None

    def url(self, name: str) -> str:
        return name

    def versions(self, prefix: str) -> dict[str, str]:
        """Size and modification time (ns): a file copied in or rewritten gets a new one."""
        found = {}
        for name in self.list(prefix):
            path = self.root / name
            try:
                stat = path.stat()
            except OSError:  # a link loop or a dangling link: the link itself (open refuses it)
                stat = path.lstat()
            found[name] = f"{stat.st_size}:{stat.st_mtime_ns}"
        return found


class GcsStore:
    """The archive under `gs://bucket/prefix`, through google-cloud-storage.

    The client follows STORAGE_EMULATOR_HOST (anonymous credentials against an emulator
    such as fake-gcs-server); on Composer the pipeline passes `connect`, which builds it
    from the Airflow connection (warehouse.google.storage_client) on first use.
    """

    def __init__(self, bucket: str, prefix: str = "", client=None, connect=None) -> None:
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self._client = client
        self._connect = connect

    def _root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def _bucket(self):
        if self._client is None and self._connect is not None:
            self._client = self._connect()
        if self._client is None:
            from google.cloud import storage  # heavy: imported at run time only

            self._client = storage.Client()
        return self._client.bucket(self.bucket_name)

    def list(self, prefix: str, end_before: str | None = None) -> Iterator[str]:
        root = self._root()
        blobs = self._bucket().list_blobs(
            prefix=root + prefix,
            end_offset=root + end_before if end_before else None,
            fields="items(name),nextPageToken",
        )
        names = (blob.name[len(root) :] for blob in blobs)
        # endOffset is a server-side hint; filtering again keeps the contract on any server.
        return iter(sorted(name for name in names if _wanted(name, prefix, end_before)))

    def open(self, name: str) -> BinaryIO:
        blob = self._bucket().get_blob(self._root() + name)
        if blob is None:
            raise ObjectNotFound(self.url(name))
        # The blob carries its generation: every range read gets that one version, even if
        # the object is overwritten while it is read. raw_download: the bytes as stored
        # (a .gz stays gzipped; the parser decides from the name).
        return blob.open("rb", chunk_size=GCS_READ_CHUNK_BYTES, raw_download=True)

    def read(self, name: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return self._bucket().blob(self._root() + name).download_as_bytes(raw_download=True)
        except NotFound:
            return None

    def url(self, name: str) -> str:
        return f"gs://{self.bucket_name}/{self._root()}{name}"

    def versions(self, prefix: str) -> dict[str, str]:
        """Size and generation: GCS gives an overwritten object a new generation."""
        root = self._root()
        blobs = self._bucket().list_blobs(prefix=root + prefix, fields="items(name,size,generation),nextPageToken")
        return {blob.name[len(root) :]: f"{blob.size}:{blob.generation}" for blob in blobs}

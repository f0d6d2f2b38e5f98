"""Where statement files go: a local folder, or gs://BUCKET/PREFIX (production), write-once.

A written file is never replaced: locally the file is written under a temporary name and
linked to its name (`os.link` fails when the name exists), on GCS the upload carries
`if_generation_match=0` (GCS refuses it when the object exists). A version is complete when
its statement.html exists (written last), so a run that died half-way writes the rest.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

GCS_SCHEME = "gs://"
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".csv": "text/csv; charset=utf-8", ".json": "application/json"}
_UPLOAD_TIMEOUT_S = 120.0


class StatementStore(Protocol):
    def exists(self, name: str) -> bool: ...

    def read(self, name: str) -> bytes | None: ...

    def create(self, name: str, data: bytes) -> bool:
        """Write `name` once; False (and nothing written) when it exists already."""
        ...

    def url(self, name: str) -> str: ...


class LocalStatements:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def read(self, name: str) -> bytes | None:
        path = self.root / name
        return path.read_bytes() if path.is_file() else None

    def create(self, name: str, data: bytes) -> bool:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        finally:
            Path(tmp).unlink(missing_ok=True)

    def url(self, name: str) -> str:
        return str(self.root / name)


class GcsStatements:
    def __init__(self, url: str, client) -> None:
        bucket, _, prefix = url.removeprefix(GCS_SCHEME).partition("/")
        self.bucket_name, self.prefix = bucket, prefix.strip("/")
        self._bucket = client.bucket(bucket)

    def _name(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def exists(self, name: str) -> bool:
        return self._bucket.blob(self._name(name)).exists()

    def read(self, name: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return self._bucket.blob(self._name(name)).download_as_bytes()
        except NotFound:
            return None

    def create(self, name: str, data: bytes) -> bool:
        from google.api_core.exceptions import PreconditionFailed
        from google.api_core.retry import Retry

        blob = self._bucket.blob(self._name(name))
        try:
            blob.upload_from_string(
                data,
                content_type=_CONTENT_TYPES[Path(name).suffix],
                if_generation_match=0,
                retry=Retry(initial=1.0, maximum=30.0, multiplier=2.0, timeout=300.0),
                timeout=_UPLOAD_TIMEOUT_S,
            )
        except PreconditionFailed:
            return False
        return True

    def url(self, name: str) -> str:
        return f"{GCS_SCHEME}{self.bucket_name}/{self._name(name)}"


def open_statements(settings) -> StatementStore:
    """The settings' statements destination. Production (REPLICA_LEDGER_ENV=gcp) has a gs://
    one by construction (settings.py refuses anything else there)."""
    target = settings.statements_dir
    if target.startswith(GCS_SCHEME):
        from replica_ledger.warehouse.google import storage_client  # the Airflow connection's credentials

        return GcsStatements(target, storage_client(settings))
    if settings.gcp is not None:
        raise RuntimeError(f"statements must go to gs:// in production, not {target!r}")
    return LocalStatements(Path(target))

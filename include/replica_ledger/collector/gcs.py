"""Uploading finished snapshot files to gs://bucket/prefix with google-cloud-storage."""

from __future__ import annotations

import tempfile
from pathlib import Path

from google.api_core.exceptions import GoogleAPIError
from google.api_core.retry import Retry
from google.auth.exceptions import GoogleAuthError
from google.cloud import storage

from replica_ledger.collector.destination import GCS_SCHEME, WriteContent, staged_file
from replica_ledger.collector.errors import CollectorError

# Whole-object uploads of the same content are safe to repeat, so retry transient errors.
_UPLOAD_RETRY = Retry(initial=1.0, maximum=30.0, multiplier=2.0, timeout=300.0)
_UPLOAD_TIMEOUT_S = 120.0


def content_type_for(name: str) -> str:
    # A plain .gz object, not Content-Encoding: gzip, so GCS never transcodes it on download
    # and every reader gets the same bytes the archive layout promises.
    return "application/gzip" if name.endswith(".gz") else "application/json"


class GcsDestination:
    # Snapshots are large and GCS bills storage and egress: always compress there.
    gzip_required = True

    def __init__(self, bucket_name: str, prefix: str) -> None:
        self._bucket_name = bucket_name
        self._prefix = prefix.strip("/")
        self._client: storage.Client | None = None

    @classmethod
    def from_url(cls, url: str) -> GcsDestination:
        bucket_name, _, prefix = url.removeprefix(GCS_SCHEME).partition("/")
        if not bucket_name:
            raise CollectorError(f"--output {url!r} names no bucket; expected gs://BUCKET[/PREFIX]")
        return cls(bucket_name, prefix)

    def object_name(self, relative_name: str) -> str:
        return f"{self._prefix}/{relative_name}" if self._prefix else relative_name

    def publish(self, relative_name: str, write_content: WriteContent) -> str:
        object_name = self.object_name(relative_name)
        url = f"{GCS_SCHEME}{self._bucket_name}/{object_name}"
        with staged_file(Path(tempfile.gettempdir()), Path(relative_name).name) as (file, temp_path):
            write_content(file)
            file.flush()
            try:
                blob = self._bucket().blob(object_name)
                blob.upload_from_filename(
                    str(temp_path),
                    content_type=content_type_for(relative_name),
                    retry=_UPLOAD_RETRY,
                    timeout=_UPLOAD_TIMEOUT_S,
                )
            except (GoogleAPIError, GoogleAuthError) as exc:
                raise CollectorError(f"cannot upload {url}: {exc}") from exc
        return url

    def _bucket(self) -> storage.Bucket:
        if self._client is None:
            try:
                self._client = storage.Client()
            except GoogleAuthError as exc:
                raise CollectorError(f"no Google credentials for {GCS_SCHEME}{self._bucket_name}: {exc}") from exc
        return self._client.bucket(self._bucket_name)

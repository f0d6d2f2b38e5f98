"""Uploading finished snapshot files to gs://bucket/prefix with google-cloud-storage."""

from __future__ import annotations

import tempfile
from pathlib import Path

import requests
from google.api_core.exceptions import GoogleAPIError
from google.api_core.retry import Retry
from google.auth.exceptions import GoogleAuthError
from google.cloud import storage

from replica_ledger.collector.errors import CollectorError, DeadlineExceeded
from replica_ledger.collector.settings import ENV_PREFIX
from replica_ledger.collector.staging import GCS_SCHEME, WriteContent, staged_file
from replica_ledger.http_retry import Deadline

# Whole-object uploads of the same content are safe to repeat, so retry transient errors,
# for at most this long and never past the capture's deadline.
_UPLOAD_RETRY_S = 300.0
_UPLOAD_TIMEOUT_S = 120.0


def content_type_for(name: str) -> str:
    # A plain .gz object, not Content-Encoding: gzip, so GCS never transcodes it on download
    # and every reader gets the same bytes the archive layout promises.
    return "application/gzip" if name.endswith(".gz") else "application/json"


class GcsDestination:
    # Snapshots are large and GCS bills storage and egress: always compress there.
    gzip_required = True

    def __init__(self, bucket_name: str, prefix: str, deadline: Deadline | None = None) -> None:
        self._bucket_name = bucket_name
        self._prefix = prefix.strip("/")
        self._client: storage.Client | None = None
        self._deadline = deadline or Deadline(float("inf"))

    @classmethod
    def from_url(cls, url: str, deadline: Deadline | None = None) -> GcsDestination:
        bucket_name, _, prefix = url.removeprefix(GCS_SCHEME).partition("/")
        if not bucket_name:
            raise CollectorError(f"--output {url!r} names no bucket; expected gs://BUCKET[/PREFIX]")
        return cls(bucket_name, prefix, deadline)

    def object_name(self, relative_name: str) -> str:
        return f"{self._prefix}/{relative_name}" if self._prefix else relative_name

    def publish(self, relative_name: str, write_content: WriteContent) -> str:
        object_name = self.object_name(relative_name)
        url = f"{GCS_SCHEME}{self._bucket_name}/{object_name}"
        with staged_file(Path(tempfile.gettempdir()), Path(relative_name).name) as (file, temp_path):
            write_content(file)
            file.flush()
            if self._deadline.expired():
                raise DeadlineExceeded(f"{self._deadline_text()} passed before uploading {url}")
            retry_s = min(_UPLOAD_RETRY_S, self._deadline.remaining_s())
            try:
                blob = self._bucket().blob(object_name)
                blob.upload_from_filename(
                    str(temp_path),
                    content_type=content_type_for(relative_name),
                    retry=Retry(initial=1.0, maximum=30.0, multiplier=2.0, timeout=retry_s),
                    timeout=self._deadline.bound(_UPLOAD_TIMEOUT_S),
                )
            # requests' own errors: a read timeout is not among the transient errors Retry repeats.
            except (GoogleAPIError, GoogleAuthError, requests.RequestException) as exc:
                if self._deadline.expired():
                    raise DeadlineExceeded(f"{self._deadline_text()} passed while uploading {url}: {exc}") from exc
                raise CollectorError(f"cannot upload {url}: {exc}") from exc
        return url

    def _deadline_text(self) -> str:
        return f"deadline of {self._deadline.seconds:g}s ({ENV_PREFIX}DEADLINE_SECONDS)"

    def _bucket(self) -> storage.Bucket:
        if self._client is None:
            try:
                self._client = storage.Client()
            except GoogleAuthError as exc:
                raise CollectorError(f"no Google credentials for {GCS_SCHEME}{self._bucket_name}: {exc}") from exc
        return self._client.bucket(self._bucket_name)

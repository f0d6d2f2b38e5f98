"""A fake Google Cloud Storage upload endpoint on 127.0.0.1, for the real google-cloud-storage client.

The client talks to it when STORAGE_EMULATOR_HOST is set to its URL (it then uses
anonymous credentials). Only uploads are implemented, the two ways the client makes them:

    POST /upload/storage/v1/b/BUCKET/o?uploadType=multipart    (files up to 8 MB)
    POST /upload/storage/v1/b/BUCKET/o?uploadType=resumable    then PUT the bytes to the session

An object appears in `objects` only once its upload completed, as on GCS. Set
`refuse_uploads` to answer 403 to every upload.

    with FakeGcs() as gcs:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
        ...
        gcs.objects["bucket", "prefix/dt=2026-10-11/c.json.gz"].data
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google_crc32c

LOOPBACK = "127.0.0.1"
# How often serve_forever checks for shutdown; the default 0.5 s would add to every test.
_SHUTDOWN_POLL_S = 0.02
_UPLOAD_PATH = re.compile(r"/upload/storage/v1/b/(?P<bucket>[^/]+)/o")
_SESSION_PATH = re.compile(r"/upload/session/(?P<session>\d+)")
_CONTENT_RANGE = re.compile(r"bytes (?:(?P<first>\d+)-(?P<last>\d+)|\*)/(?P<total>\d+|\*)")


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    content_type: str | None
    content_encoding: str | None


@dataclass
class _Session:
    bucket: str
    metadata: dict[str, Any]
    received: bytearray


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    gcs: FakeGcs


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        match = _UPLOAD_PATH.fullmatch(url.path)
        if match is None:
            self._send_json(404, {"error": {"code": 404, "message": f"no route {url.path}"}})
            return
        gcs = self.server.gcs
        body = self._read_body()
        if gcs.refuse_uploads:
            self._send_json(403, {"error": {"code": 403, "message": "fake_gcs refuses uploads"}})
            return
        upload_type = parse_qs(url.query).get("uploadType", [""])[0]
        if upload_type == "multipart":
            metadata, data = _split_multipart(self.headers.get("Content-Type", ""), body)
            self._send_json(200, gcs.store(match["bucket"], metadata, data))
        elif upload_type == "resumable":
            metadata = json.loads(body or b"{}")
            metadata.setdefault("contentType", self.headers.get("X-Upload-Content-Type"))
            session_id = gcs.open_session(match["bucket"], metadata)
            host, port = self.server.server_address[:2]
            self._send_json(200, {}, {"Location": f"http://{host}:{port}/upload/session/{session_id}"})
        else:
            self._send_json(400, {"error": {"code": 400, "message": f"uploadType {upload_type!r}"}})

    def do_PUT(self) -> None:
        match = _SESSION_PATH.fullmatch(urlsplit(self.path).path)
        gcs = self.server.gcs
        session = gcs.sessions.get(int(match["session"])) if match else None
        if session is None:
            self._send_json(404, {"error": {"code": 404, "message": "no such upload session"}})
            return
        session.received += self._read_body()
        content_range = _CONTENT_RANGE.fullmatch(self.headers.get("Content-Range", ""))
        total = content_range["total"] if content_range else "*"
        if total != "*" and len(session.received) >= int(total):
            self._send_json(200, gcs.store(session.bucket, session.metadata, bytes(session.received)))
            return
        # 308: more bytes expected; Range tells the client how many arrived.
        self.send_response(308)
        if session.received:
            self.send_header("Range", f"bytes=0-{len(session.received) - 1}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _split_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON metadata part and the data part of a multipart/related upload.

    The data part's own Content-Type becomes the object's contentType, as on GCS.
    """
    boundary_match = re.search(r'boundary="?([^";]+)"?', content_type)
    if boundary_match is None:
        raise ValueError(f"no boundary in {content_type!r}")
    delimiter = b"--" + boundary_match.group(1).encode()
    parts = [part for part in body.split(delimiter) if part not in (b"", b"--", b"--\r\n")]
    (_, metadata_json), (data_headers, data) = (_split_part(part) for part in parts[:2])
    metadata = json.loads(metadata_json)
    type_match = re.search(rb"(?im)^content-type:\s*(\S+)", data_headers)
    if type_match and "contentType" not in metadata:
        metadata["contentType"] = type_match.group(1).decode()
    return metadata, data


def _split_part(part: bytes) -> tuple[bytes, bytes]:
    headers, content = part.split(b"\r\n\r\n", 1)
    return headers, content.removesuffix(b"\r\n")


class FakeGcs:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.upload_order: list[tuple[str, str]] = []
        self.sessions: dict[int, _Session] = {}
        self.refuse_uploads = False
        self._session_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGcs is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def store(self, bucket: str, metadata: dict[str, Any], data: bytes) -> dict[str, Any]:
        name = metadata["name"]
        with self._lock:
            self.objects[bucket, name] = StoredObject(
                data, metadata.get("contentType"), metadata.get("contentEncoding")
            )
            self.upload_order.append((bucket, name))
        return {
            "kind": "storage#object",
            "bucket": bucket,
            "name": name,
            "size": str(len(data)),
            "generation": "1",
            # The client checks the upload against these, as GCS returns them.
            "crc32c": base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode(),
            "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),
        }

    def open_session(self, bucket: str, metadata: dict[str, Any]) -> int:
        with self._lock:
            session_id = next(self._session_ids)
            self.sessions[session_id] = _Session(bucket, metadata, bytearray())
        return session_id

    def __enter__(self) -> FakeGcs:
        self._server = _Server((LOOPBACK, 0), _Handler)
        self._server.gcs = self
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _SHUTDOWN_POLL_S},
            name="fake-gcs",
            daemon=True,
        ).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

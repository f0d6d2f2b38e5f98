"""What went wrong with one list request, in words that name the cause, and whether to retry.

Permanent faults raise a CollectorError subclass at once (one request, no retry):
TLS or protocol mismatches, untrusted certificates, 401/403, 404 and other answers a retry
cannot change. Transient ones come back as a `Failure` for the retry loop: timeouts,
refused or dropped connections, 429 and 5xx. A refused connection is transient on purpose:
an API server that restarts (a control-plane upgrade) refuses connections for a while.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from kubernetes.client.exceptions import ApiException

from replica_ledger.collector.errors import AccessDenied, ListExpired, PermanentError
from replica_ledger.collector.resources import ListedResource
from replica_ledger.collector.settings import ENV_PREFIX
from replica_ledger.http_retry import is_retryable_status, parse_retry_after

RBAC_MANIFEST = "include/k8s/rbac.yaml"
KUBECONFIG_SERVER_HINT = "check the server URL of the cluster in the kubeconfig"
# OpenSSL's reasons when the other side does not answer in TLS at all (a plain-HTTP server).
_NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"}
)
# The first bytes of a TLS record (alert or handshake) where an HTTP status line should be.
_TLS_RECORD_PREFIXES = ("\x15\x03", "\x16\x03")
_BODY_EXCERPT_CHARS = 200


@dataclass(frozen=True)
class Failure:
    """A transient fault: what happened, and the answer's headers (for Retry-After)."""

    description: str
    headers: Mapping[str, Any] | None = None
    timed_out: bool = False  # the server did not answer in time (counted against MAX_TIMEOUTS)


class TlsFailure(Exception):
    """urllib3's SSLError, kept intact on its way through the Kubernetes client (see kube.py)."""

    def __init__(self, original: urllib3.exceptions.SSLError) -> None:
        super().__init__(str(original))
        self.original = original


class StalledAnswer(Exception):
    """The answer's headers came, then its body stopped arriving (a read timeout mid-page)."""


@dataclass(frozen=True)
class Endpoint:
    """The API server as the kubeconfig names it, for messages."""

    url: str

    @property
    def address(self) -> str:
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.hostname}:{port}"


@dataclass(frozen=True)
class Timeouts:
    """The socket timeouts of one request, and whether the deadline shortened each."""

    connect_s: float
    read_s: float
    connect_cut: bool = False
    read_cut: bool = False

    @property
    def cut_by_deadline(self) -> bool:
        return self.connect_cut or self.read_cut


def classify_transport_error(exc: Exception, endpoint: Endpoint, timeouts: Timeouts) -> Failure:
    """Raise for a fault no retry can fix; describe a transient one."""
    if isinstance(exc, TlsFailure):
        return _classify_tls(exc.original, endpoint)
    if isinstance(exc, StalledAnswer):
        return Failure(f"the answer from {endpoint.address} stalled mid-page", timed_out=True)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # before ConnectTimeoutError, its base class
        return Failure(_describe_connect_failure(exc, endpoint))
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        waited = _waited(timeouts.connect_s, timeouts.connect_cut, "CONNECT_TIMEOUT")
        return Failure(f"no connection to {endpoint.address} {waited}", timed_out=True)
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        if "handshake" in str(exc.__context__ or ""):  # urllib3 runs the handshake under the connect timeout
            waited = _waited(timeouts.connect_s, timeouts.connect_cut, "CONNECT_TIMEOUT")
            return Failure(f"no TLS handshake from {endpoint.address} {waited}", timed_out=True)
        waited = _waited(timeouts.read_s, timeouts.read_cut, "READ_TIMEOUT")
        return Failure(f"no response from {endpoint.address} {waited}", timed_out=True)
    if isinstance(exc, urllib3.exceptions.LocationValueError):
        raise PermanentError(f"server URL {endpoint.url!r} is unusable: {exc} ({KUBECONFIG_SERVER_HINT})") from exc
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return _classify_protocol_error(exc, endpoint)
    return Failure(f"{type(exc).__name__}: {exc}")


def _waited(seconds: float, cut_by_deadline: bool, setting: str) -> str:
    """E.g. "within 30s (read timeout, REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT)"."""
    if cut_by_deadline:
        return f"within {_seconds(seconds)}s (the rest of the deadline, {ENV_PREFIX}DEADLINE_SECONDS)"
    return f"within {_seconds(seconds)}s ({setting.lower().replace('_', ' ')}, {ENV_PREFIX}{setting})"


def _seconds(value: float) -> str:
    """30, 12.5, 0.3, 0.039: a timeout cut by the deadline is no 19.9863."""
    if value >= 1:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.2g}"


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The underlying error of type `kind`, wherever urllib3 put it (chained or as an argument)."""
    for candidate in (exc.__cause__, exc.__context__, *exc.args):
        if isinstance(candidate, kind):
            return candidate
    return None


def _describe_connect_failure(exc: urllib3.exceptions.NewConnectionError, endpoint: Endpoint) -> str:
    cause = _cause(exc, OSError)
    if isinstance(exc, urllib3.exceptions.NameResolutionError) or isinstance(cause, socket.gaierror):
        host = urlsplit(endpoint.url).hostname
        return f"cannot resolve host {host} ({getattr(cause, 'strerror', None) or cause})"
    if isinstance(cause, ConnectionRefusedError):
        return (
            f"connection refused by {endpoint.address} (the API server is down or restarting, "
            "or the kubeconfig server URL has a wrong port)"
        )
    reason = getattr(cause, "strerror", None) or cause or exc
    return f"cannot connect to {endpoint.address}: {reason}"


def _classify_tls(exc: urllib3.exceptions.SSLError, endpoint: Endpoint) -> Failure:
    cause = _cause(exc, ssl.SSLError)
    if isinstance(cause, ssl.SSLCertVerificationError):
        raise PermanentError(
            f"TLS certificate of {endpoint.address} is not trusted: {cause.verify_message} "
            "(set certificate-authority or certificate-authority-data for the cluster in the kubeconfig)"
        ) from exc
    reason = getattr(cause, "reason", None) or ""
    if reason in _NOT_TLS_REASONS:
        raise PermanentError(
            f"{endpoint.address} does not speak TLS ({reason}): the server URL {endpoint.url} says https, "
            f"the server answers in plain HTTP (http://?; {KUBECONFIG_SERVER_HINT})"
        ) from exc
    # Handshakes cut short (EOF, reset) also happen to a server that restarts: retry those.
    return Failure(f"TLS failure with {endpoint.address}: {cause or exc}")


def _classify_protocol_error(exc: urllib3.exceptions.ProtocolError, endpoint: Endpoint) -> Failure:
    cause = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], BaseException) else exc.__context__
    # RemoteDisconnected is a BadStatusLine too, but a dropped connection is worth a retry.
    if isinstance(cause, http.client.RemoteDisconnected):
        return Failure(f"{endpoint.address} closed the connection without answering")
    if isinstance(cause, http.client.BadStatusLine | http.client.LineTooLong | http.client.UnknownProtocol):
        line = str(cause.args[0] if cause.args else cause)
        if line.startswith(_TLS_RECORD_PREFIXES):
            raise PermanentError(
                f"{endpoint.address} answers in TLS, not plain HTTP: the server URL {endpoint.url} "
                f"should start with https:// ({KUBECONFIG_SERVER_HINT})"
            ) from exc
        raise PermanentError(
            f"{endpoint.address} does not speak HTTP (it answered {line[:40]!r}); "
            f"is {endpoint.url} a Kubernetes API server? ({KUBECONFIG_SERVER_HINT})"
        ) from exc
    if isinstance(cause, ConnectionResetError):
        return Failure(f"{endpoint.address} reset the connection")
    if isinstance(cause, http.client.IncompleteRead):
        return Failure(f"the answer from {endpoint.address} was cut off ({cause})")
    return Failure(f"connection to {endpoint.address} broken: {cause or exc}")


def classify_api_error(resource: ListedResource, exc: ApiException, endpoint: Endpoint) -> Failure:
    """Raise for what no retry can fix; describe the rest for the retry loop."""
    status = exc.status or 0
    if status == 410:
        raise ListExpired(resource.qualified_name) from exc
    if status == 403:
        raise AccessDenied(
            f"forbidden: cannot list {resource.qualified_name} at cluster scope; "
            f"grant get/list on {resource.qualified_name} (see {RBAC_MANIFEST})"
        ) from exc
    if status == 401:
        raise AccessDenied(
            f"unauthorized: cannot list {resource.qualified_name} at cluster scope; "
            "the API server rejected the credentials (check the kubeconfig user or the "
            "service account token)"
        ) from exc
    if status == 0:  # the client's own failure before any answer
        raise PermanentError(f"listing {resource.qualified_name} failed before any answer: {exc.reason}") from exc
    description = f"HTTP {status} {exc.reason or ''}".rstrip() + _body_message(exc)
    if is_retryable_status(status):
        return Failure(description + _retry_after_note(exc.headers), exc.headers)
    raise PermanentError(
        f"listing {resource.qualified_name} failed: {description}" + _status_hint(status, exc, endpoint)
    ) from exc


def _status_hint(status: int, exc: ApiException, endpoint: Endpoint) -> str:
    if "HTTP request to an HTTPS server" in _body_text(exc):  # Go's net/http, as kube-apiserver answers
        return f" (the server speaks TLS: the server URL {endpoint.url} should start with https://)"
    if status == 404:
        return f" (is {endpoint.url} the Kubernetes API server? {KUBECONFIG_SERVER_HINT})"
    return ""


def _retry_after_note(headers: Mapping[str, Any] | None) -> str:
    retry_after = parse_retry_after(headers)
    return "" if retry_after is None else f" (Retry-After {retry_after:g}s)"


def _body_text(exc: ApiException) -> str:
    body = exc.body or ""
    return body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else str(body)


def _body_message(exc: ApiException) -> str:
    """The `message` of the Kubernetes Status object in the error body, or the start of a plain-text body."""
    text = _body_text(exc).strip()
    if not text:
        return ""
    try:
        document = json.loads(text)
    except ValueError:
        return f": {text[:_BODY_EXCERPT_CHARS]}"
    message = document.get("message") if isinstance(document, dict) else None
    return f": {message}" if message else ""


def not_a_list_page(
    resource: ListedResource, endpoint: Endpoint, content_type: str | None, problem: str
) -> PermanentError:
    """A 200 answer that is not a Kubernetes list: the URL leads to some other server."""
    return PermanentError(
        f"listing {resource.qualified_name}: the answer from {endpoint.url} is not a Kubernetes list "
        f"({problem}; Content-Type {content_type or 'none'}); is it the API server? ({KUBECONFIG_SERVER_HINT})"
    )

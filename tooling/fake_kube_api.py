"""A fake Kubernetes API server for tests and benchmarks: real HTTP on 127.0.0.1.

It speaks just enough of the list API for the collector, through the official client:

    GET /apis/apps/v1/deployments?limit=N&continue=TOKEN
    GET /apis/autoscaling/v2/horizontalpodautoscalers?limit=N&continue=TOKEN

Objects are generated from their index when a page is served (nothing is kept in memory,
so 50,000 objects cost no more than 50), and bodies are streamed with chunked encoding.
Like a real API server it leaves apiVersion/kind out of list items and includes
metadata.managedFields, which kubectl strips.

Faults are injected per resource and page (page 0 is the request without a continue
token): 410 Gone, 429 or 5xx with Retry-After, 401/403, any other status, slow answers,
answers that stall mid-body, and 200 answers that are not a Kubernetes list. Every request
is recorded with its arrival time (time.monotonic) so tests can check what the client did,
e.g. that it waited for Retry-After, without timing anything themselves; `connections`
counts accepted TCP connections, including those that never became an HTTP request.

    with FakeKubeApi(deployments=1200, hpas=800, faults=[Fault.gone("deployments", page=2)]) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        ...
        api.recorded_requests("deployments")

`FakeKubeApi(tls=True)` serves HTTPS with a certificate made for the run; its kubeconfig
trusts it (or not: `write_kubeconfig(..., trust_certificate=False)`). Like kube-apiserver
(Go's net/http), it answers a plain-HTTP request on its TLS port with "400 Bad Request:
Client sent an HTTP request to an HTTPS server." Paths outside the list API get Go's
plain-text "404 page not found".

`BrokenServer` is a TCP listener that is no API server at all: it accepts connections and
never answers (HANG), or answers with another protocol (GARBAGE). `closed_port()` is a
port nobody listens on (connection refused).

Run it by hand: python -m tooling.fake_kube_api --deployments 1000 --hpas 1000
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import datetime as dt
import functools
import ipaddress
import json
import selectors
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

LOOPBACK = "127.0.0.1"
# How often serve_forever checks for shutdown; the default 0.5 s would add to every test.
_SHUTDOWN_POLL_S = 0.02
DEFAULT_TOKEN = "fake-token-for-tests"  # noqa: S105 - a test credential, only for the loopback fake
ALWAYS = -1  # Fault.times for a fault that never wears off
_ITEMS_PER_CHUNK = 100
_MAX_PREFETCHED_PAGES = 4
# What Go's net/http (so kube-apiserver) writes back when plain HTTP arrives on its TLS port.
GO_PLAIN_HTTP_ON_TLS_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
GO_NOT_FOUND_BODY = b"404 page not found\n"
NOT_KUBERNETES_BODY = b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>\n"

# ----------------------------------------------------------------------------- objects

_NAME_STEMS = ("quote-api", "checkout.v2", "pricing-engine", "search.api-edge", "ledger", "auth.token-svc")
_NAMESPACES = (*(f"team-{n:02d}" for n in range(37)), "kube-system", "composer-2-9-1")
_CREATED = "2026-03-02T10:11:12Z"


def object_name(index: int) -> str:
    """Deployment (and HPA) names, with dots and dashes: e.g. checkout.v2-00001."""
    return f"{_NAME_STEMS[index % len(_NAME_STEMS)]}-{index:05d}"


def object_namespace(index: int) -> str:
    return _NAMESPACES[index % len(_NAMESPACES)]


def _uid(kind: str, index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-kube-api/{kind}/{index}"))


def _managed_fields(manager: str) -> list[dict[str, Any]]:
    return [
        {
            "manager": manager,
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": "2026-10-11T08:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}, "f:status": {"f:replicas": {}}},
        }
    ]


def make_deployment(index: int) -> dict[str, Any]:
    """A Deployment as the API server lists it (no apiVersion/kind, with managedFields)."""
    name, namespace = object_name(index), object_namespace(index)
    replicas = 2 + index % 7
    rolling = index % 11 == 0  # a rollout in progress: status.replicas above spec by the surge
    container = {
        "name": "app",
        "image": f"europe-west1-docker.pkg.dev/acme/apis/{name}:2026.10.{index % 30}",
        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": str(1 + index % 4), "memory": f"{2 + index % 6}Gi"},
            "limits": {"memory": f"{2 + index % 6}Gi"},
        },
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
    }
    last_applied = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas},
    }
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": _uid("deployment", index),
            "resourceVersion": str(880000 + index),
            "generation": 3 + index % 9,
            "creationTimestamp": _CREATED,
            "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": namespace},
            "annotations": {
                "deployment.kubernetes.io/revision": str(1 + index % 40),
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(last_applied) + "\n",
            },
            "managedFields": _managed_fields("kube-controller-manager"),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 30},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": 3 + index % 9,
            "replicas": replicas + (1 if rolling else 0),
            "updatedReplicas": replicas - (1 if rolling else 0),
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "lastUpdateTime": "2026-10-11T08:00:00Z",
                    "lastTransitionTime": "2026-10-11T08:00:00Z",
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "lastUpdateTime": "2026-10-11T08:00:00Z",
                    "lastTransitionTime": "2026-03-02T10:11:12Z",
                    "reason": "ReplicaSetUpdated" if rolling else "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{name}-7d9c8b6f5" has successfully progressed.',
                },
            ],
        },
    }


def make_hpa(index: int) -> dict[str, Any]:
    """An autoscaling/v2 HPA targeting the Deployment with the same index."""
    name, namespace = object_name(index), object_namespace(index)
    max_replicas = 4 + index % 6
    desired = 2 + index % (max_replicas - 1)
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": _uid("hpa", index),
            "resourceVersion": str(990000 + index),
            "creationTimestamp": _CREATED,
            "labels": {"app.kubernetes.io/name": name},
            "managedFields": _managed_fields("kube-controller-manager"),
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
        "status": {
            "lastScaleTime": "2026-10-11T07:42:00Z",
            "currentReplicas": desired,
            "desiredReplicas": desired,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 40 + index % 50}},
                }
            ],
            "conditions": [
                {
                    "type": "AbleToScale",
                    "status": "True",
                    "lastTransitionTime": "2026-10-11T07:42:00Z",
                    "reason": "ReadyForNewScale",
                    "message": "recommended size matches current size",
                },
                {
                    "type": "ScalingActive",
                    "status": "True",
                    "lastTransitionTime": "2026-03-02T10:11:12Z",
                    "reason": "ValidMetricFound",
                    "message": "the HPA was able to successfully calculate a replica count",
                },
            ],
        },
    }


@dataclass(frozen=True)
class _ResourceRoute:
    plural: str
    group: str
    api_version: str
    list_kind: str
    make_item: Callable[[int], dict[str, Any]]


_ROUTES = {
    "/apis/apps/v1/deployments": _ResourceRoute("deployments", "apps", "apps/v1", "DeploymentList", make_deployment),
    "/apis/autoscaling/v2/horizontalpodautoscalers": _ResourceRoute(
        "horizontalpodautoscalers", "autoscaling", "autoscaling/v2", "HorizontalPodAutoscalerList", make_hpa
    ),
}
RESOURCE_PLURALS = tuple(route.plural for route in _ROUTES.values())
RESOURCE_ALIASES = {"hpas": "horizontalpodautoscalers"}

# ----------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """What to do instead of (or before) answering a list request of `resource` at `page`.

    page None matches every page; times is how many matching requests it affects
    (ALWAYS for every one).
    """

    resource: str
    page: int | None
    status: int | None = None
    retry_after: str | None = None
    delay_s: float = 0.0
    times: int = 1
    # Send the head of the page, then wait this long before the rest (a stalled answer).
    stall_s: float = 0.0
    # Answer 200 with this body instead of the page (a server that is not Kubernetes).
    body: bytes | None = None

    def __post_init__(self) -> None:
        self.resource = RESOURCE_ALIASES.get(self.resource, self.resource)
        if self.resource not in RESOURCE_PLURALS:
            raise ValueError(f"unknown resource {self.resource!r}; use one of {RESOURCE_PLURALS}")

    @classmethod
    def gone(cls, resource: str, page: int, times: int = 1) -> Fault:
        """410 Gone with reason Expired: the continue token for `page` is too old."""
        return cls(resource, page, status=410, times=times)

    @classmethod
    def throttled(cls, resource: str, page: int, retry_after_s: int = 1, times: int = 1) -> Fault:
        return cls(resource, page, status=429, retry_after=str(retry_after_s), times=times)

    @classmethod
    def server_error(
        cls, resource: str, page: int, status: int = 500, times: int = 1, retry_after_s: int | None = None
    ) -> Fault:
        retry_after = None if retry_after_s is None else str(retry_after_s)
        return cls(resource, page, status=status, retry_after=retry_after, times=times)

    @classmethod
    def answer(cls, resource: str, status: int, page: int | None = None, times: int = ALWAYS) -> Fault:
        """Any status with a Kubernetes Status body, e.g. 400 or 404."""
        return cls(resource, page, status=status, times=times)

    @classmethod
    def stalled(cls, resource: str, page: int, stall_s: float, times: int = ALWAYS) -> Fault:
        """200 and the first bytes of the page, then nothing for `stall_s`."""
        return cls(resource, page, stall_s=stall_s, times=times)

    @classmethod
    def not_kubernetes(cls, resource: str, page: int = 0) -> Fault:
        """200 with an HTML page: the URL leads to some web server, not an API server."""
        return cls(resource, page, body=NOT_KUBERNETES_BODY, times=ALWAYS)

    @classmethod
    def forbidden(cls, resource: str) -> Fault:
        return cls(resource, None, status=403, times=ALWAYS)

    @classmethod
    def unauthorized(cls, resource: str) -> Fault:
        return cls(resource, None, status=401, times=ALWAYS)

    @classmethod
    def slow(cls, resource: str, page: int, delay_s: float, times: int = 1) -> Fault:
        """Answer normally, but only after `delay_s` (a client with a shorter timeout gives up)."""
        return cls(resource, page, delay_s=delay_s, times=times)

    def matches(self, resource: str, page: int) -> bool:
        return self.times != 0 and self.resource == resource and self.page in (None, page)


@dataclass(frozen=True)
class RecordedRequest:
    arrived_at: float  # time.monotonic() on arrival
    resource: str
    page: int
    limit: int | None
    continue_token: str | None
    status: int
    fault: Fault | None = None


_STATUS_MESSAGES = {
    401: ("Unauthorized", "Unauthorized"),
    403: (
        "Forbidden",
        '{resource}.{group} is forbidden: User "system:serviceaccount:replica-ledger:collector" '
        'cannot list resource "{resource}" in API group "{group}" at the cluster scope',
    ),
    410: (
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. "
        "You can start a new list without the continue parameter.",
    ),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected by fake_kube_api"),
    503: ("ServiceUnavailable", "The server is currently unable to handle the request"),
}


def status_body(code: int, route: _ResourceRoute | None = None) -> bytes:
    reason, message = _STATUS_MESSAGES.get(code, (HTTPStatus(code).phrase.replace(" ", ""), "injected"))
    if route is not None:
        message = message.format(resource=route.plural, group=route.group)
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return json.dumps(body).encode()


# ----------------------------------------------------------------------------- pagination


def encode_continue(offset: int, page: int, list_id: int) -> str:
    raw = json.dumps({"offset": offset, "page": page, "list": list_id}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token: str) -> dict[str, int]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        return {"offset": int(decoded["offset"]), "page": int(decoded["page"]), "list": int(decoded["list"])}
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"malformed continue token {token!r}") from exc


# ----------------------------------------------------------------------------- server


@dataclass
class _State:
    counts: dict[str, int]
    token: str | None
    faults: list[Fault]
    requests: list[RecordedRequest] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    next_list_id: int = 1
    # The next page of each list is generated while the client digests the current one, as
    # a real API server serves from its watch cache: the benchmark then measures the client,
    # not this fake. At most a few pages are held, keyed by their continue token.
    prefetched: dict[str, Future[bytes]] = field(default_factory=dict)
    prefetcher: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-kube-prefetch")
    )

    def prefetch(self, continue_token: str, route: _ResourceRoute, start: int, end: int) -> None:
        with self.lock:
            while len(self.prefetched) >= _MAX_PREFETCHED_PAGES:
                self.prefetched.pop(next(iter(self.prefetched))).cancel()
            self.prefetched[continue_token] = self.prefetcher.submit(lambda: b"".join(_item_chunks(route, start, end)))

    def page_chunks(self, continue_token: str | None, route: _ResourceRoute, start: int, end: int) -> Iterable[bytes]:
        with self.lock:
            ready = self.prefetched.pop(continue_token, None) if continue_token else None
        if ready is not None and not ready.cancelled():
            return [ready.result()]
        return _item_chunks(route, start, end)

    def take_fault(self, resource: str, page: int) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(resource, page):
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    def new_list_id(self) -> int:
        with self.lock:
            self.next_list_id += 1
            return self.next_list_id

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def count_connection(self) -> None:
        with self.lock:
            self.connections += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a slow fault must not block shutdown
    state: _State
    tls_context: ssl.SSLContext | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out hang up on slow answers; that is the point, not an error.
        pass

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Runs in the connection's own thread: count it, and speak TLS first if asked to."""
        self.state.count_connection()
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        tls_socket = _accept_tls(request, self.tls_context)
        if tls_socket is None:
            return
        try:
            super().finish_request(tls_socket, client_address)
        finally:
            tls_socket.close()


def _accept_tls(sock: socket.socket, context: ssl.SSLContext) -> ssl.SSLSocket | None:
    """The TLS side of a new connection, or None if it was plain HTTP or the handshake failed."""
    sock.settimeout(10)
    try:
        first = sock.recv(1, socket.MSG_PEEK)
        if first and first != b"\x16":  # not a TLS handshake record: answer as Go does
            sock.sendall(GO_PLAIN_HTTP_ON_TLS_ANSWER)
            return None
        tls_socket = context.wrap_socket(sock, server_side=True)
    except OSError:  # includes ssl.SSLError: the client refused our certificate, or hung up
        return None
    tls_socket.settimeout(None)
    return tls_socket


class _ListHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        arrived_at = time.monotonic()
        state = self.server.state
        url = urlsplit(self.path)
        route = _ROUTES.get(url.path)
        if route is None:
            state.record(RecordedRequest(arrived_at, url.path, 0, None, None, 404))
            self._send(404, GO_NOT_FOUND_BODY, "text/plain; charset=utf-8")
            return
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        limit = int(query["limit"]) if query.get("limit") else None
        continue_token = query.get("continue") or None
        try:
            position = decode_continue(continue_token) if continue_token else None
        except ValueError:
            self._send_json(400, status_body(400))
            return
        page = position["page"] if position else 0

        def record(status: int, fault: Fault | None = None) -> None:
            state.record(RecordedRequest(arrived_at, route.plural, page, limit, continue_token, status, fault))

        if state.token is not None and self.headers.get("Authorization") != f"Bearer {state.token}":
            record(401)
            self._send_json(401, status_body(401, route))
            return
        fault = state.take_fault(route.plural, page)
        # Recorded on arrival, so a slow answer the client gave up on still shows up.
        record(fault.status if fault is not None and fault.status else 200, fault)
        if fault is not None and fault.delay_s and state.stopping.wait(fault.delay_s):
            return
        if fault is not None and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._send_json(fault.status, status_body(fault.status, route), headers)
            return
        if fault is not None and fault.body is not None:
            self._send(200, fault.body, "text/html")
            return
        list_id = position["list"] if position else state.new_list_id()
        offset = position["offset"] if position else 0
        stall_s = fault.stall_s if fault is not None else 0.0
        self._send_page(route, state.counts[route.plural], offset, limit, page, list_id, continue_token, stall_s)

    def _send_page(
        self,
        route: _ResourceRoute,
        total: int,
        offset: int,
        limit: int | None,
        page: int,
        list_id: int,
        continue_token: str | None,
        stall_s: float = 0.0,
    ) -> None:
        state = self.server.state
        end = total if limit is None else min(total, offset + limit)
        metadata: dict[str, Any] = {"resourceVersion": str(7_000_000 + list_id)}
        if end < total:
            next_token = encode_continue(end, page + 1, list_id)
            metadata["continue"] = next_token
            metadata["remainingItemCount"] = total - end
            state.prefetch(next_token, route, end, min(total, end + (limit or total)))
        head = json.dumps({"kind": route.list_kind, "apiVersion": route.api_version, "metadata": metadata})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._write_chunk(head[:-1].encode() + b',"items":[')
        if stall_s:
            self.wfile.flush()
            if state.stopping.wait(stall_s):
                return
        for chunk in state.page_chunks(continue_token, route, offset, end):
            self._write_chunk(chunk)
        self._write_chunk(b"]}")
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _send_json(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self._send(status, body, "application/json", headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _item_chunks(route: _ResourceRoute, start: int, end: int) -> Iterator[bytes]:
    """JSON for items start..end-1, comma-separated, a hundred at a time."""
    for chunk_start in range(start, end, _ITEMS_PER_CHUNK):
        chunk_end = min(end, chunk_start + _ITEMS_PER_CHUNK)
        encoded = ",".join(json.dumps(route.make_item(index)) for index in range(chunk_start, chunk_end))
        yield (b"," if chunk_start > start else b"") + encoded.encode()


class FakeKubeApi:
    """The fake API server; a context manager that serves on 127.0.0.1 at a random port."""

    def __init__(
        self,
        deployments: int = 0,
        hpas: int = 0,
        faults: Iterable[Fault] = (),
        token: str | None = DEFAULT_TOKEN,
        tls: bool = False,
    ) -> None:
        self._state = _State(
            counts={"deployments": deployments, "horizontalpodautoscalers": hpas},
            token=token,
            faults=list(faults),
        )
        self._tls = tls
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def object_counts(self) -> dict[str, int]:
        """How many objects each list serves, as {"deployments": N, "hpas": M}."""
        counts = self._state.counts
        return {"deployments": counts["deployments"], "hpas": counts["horizontalpodautoscalers"]}

    @property
    def token(self) -> str | None:
        return self._state.token

    @property
    def url(self) -> str:
        """The server's URL: https:// when it speaks TLS."""
        if self._server is None:
            raise RuntimeError("FakeKubeApi is not running")
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    @property
    def address(self) -> str:
        """host:port, as the collector names the server in its messages."""
        return self.url.split("://", 1)[1]

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (a request that never parsed as HTTP still counts)."""
        with self._state.lock:
            return self._state.connections

    def start(self) -> FakeKubeApi:
        self._server = _Server((LOOPBACK, 0), _ListHandler)
        self._server.state = self._state
        if self._tls:
            self._server.tls_context = _server_tls_context()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _SHUTDOWN_POLL_S},
            name="fake-kube-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._state.stopping.set()
        self._state.prefetcher.shutdown(wait=False, cancel_futures=True)
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeKubeApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def add_fault(self, fault: Fault) -> None:
        with self._state.lock:
            self._state.faults.append(fault)

    def recorded_requests(self, resource: str | None = None) -> list[RecordedRequest]:
        resource = RESOURCE_ALIASES.get(resource or "", resource)
        with self._state.lock:
            return [r for r in self._state.requests if resource is None or r.resource == resource]

    def write_kubeconfig(
        self,
        path: Path,
        context: str = "fake",
        token: str | None = None,
        server_url: str | None = None,
        trust_certificate: bool = True,
    ) -> Path:
        """A kubeconfig for this server; `server_url` replaces its URL (e.g. the wrong scheme)."""
        ca_pem = fake_certificate().cert_pem if self._tls and trust_certificate else None
        token = token if token is not None else self.token
        return write_kubeconfig(path, server_url or self.url, token, context, ca_pem)


def write_kubeconfig(
    path: Path,
    server_url: str,
    token: str | None,
    context: str = "fake",
    ca_pem: bytes | None = None,
) -> Path:
    """A kubeconfig with one cluster/user/context and a bearer token; `ca_pem` is the CA to trust."""
    user: dict[str, Any] = {"token": token} if token else {}
    cluster: dict[str, Any] = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"{context}-cluster", "cluster": cluster}],
        "users": [{"name": f"{context}-user", "user": user}],
        "contexts": [{"name": context, "context": {"cluster": f"{context}-cluster", "user": f"{context}-user"}}],
        "current-context": context,
        "preferences": {},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    return path


# ----------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class FakeCertificate:
    """A self-signed certificate for 127.0.0.1 (its own CA), made once per process."""

    cert_pem: bytes
    key_pem: bytes


@functools.cache
def fake_certificate() -> FakeCertificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kube-api")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return FakeCertificate(certificate.public_bytes(serialization.Encoding.PEM), key_pem)


def _server_tls_context() -> ssl.SSLContext:
    import tempfile

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate = fake_certificate()
    # load_cert_chain reads files only.
    with tempfile.TemporaryDirectory(prefix="fake-kube-tls-") as folder:
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_file.write_bytes(certificate.cert_pem)
        key_file.write_bytes(certificate.key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context


# ----------------------------------------------------------------------------- not an API server


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class BrokenServer:
    """A TCP listener on 127.0.0.1 that is not an API server.

    HANG accepts every connection and never sends a byte (for TLS, not even a handshake);
    GARBAGE answers whatever arrives with an SSH banner. `connections` counts accepted ones.
    """

    HANG = "hang"
    GARBAGE = "garbage"
    GARBAGE_ANSWER = b"SSH-2.0-OpenSSH_9.6\r\n"

    def __init__(self, behaviour: str) -> None:
        if behaviour not in (self.HANG, self.GARBAGE):
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self._behaviour = behaviour
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._accepted: list[socket.socket] = []
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        if self._listener is None:
            raise RuntimeError("BrokenServer is not running")
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._accepted)

    def start(self) -> BrokenServer:
        self._listener = socket.create_server((LOOPBACK, 0))
        self._thread = threading.Thread(target=self._accept_loop, name="broken-server", daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            while not self._stopping.is_set():
                if not selector.select(timeout=_SHUTDOWN_POLL_S):
                    continue
                connection, _ = self._listener.accept()
                with self._lock:
                    self._accepted.append(connection)
                if self._behaviour == self.GARBAGE:
                    threading.Thread(target=self._answer_garbage, args=(connection,), daemon=True).start()

    def _answer_garbage(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError):
            connection.settimeout(5)
            connection.recv(65536)
            connection.sendall(self.GARBAGE_ANSWER)
            connection.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for connection in self._accepted:
                connection.close()
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> BrokenServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _serve_from_command_line() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Kubernetes list API on 127.0.0.1.")
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--hpas", type=int, default=1000)
    parser.add_argument("--kubeconfig", type=Path, default=Path("fake-kubeconfig.yaml"))
    args = parser.parse_args()
    with FakeKubeApi(deployments=args.deployments, hpas=args.hpas) as api:
        api.write_kubeconfig(args.kubeconfig)
        print(f"serving {api.url}; kubeconfig: {args.kubeconfig}; Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    _serve_from_command_line()

"""A fake Kubernetes API server for tests and benchmarks: real HTTP on 127.0.0.1.

It speaks just enough of the list API for the collector, through the official client:

    GET /apis/apps/v1/deployments?limit=N&continue=TOKEN
    GET /apis/autoscaling/v2/horizontalpodautoscalers?limit=N&continue=TOKEN

Objects are generated from their index when a page is served (nothing is kept in memory,
so 50,000 objects cost no more than 50), and bodies are streamed with chunked encoding.
Like a real API server it leaves apiVersion/kind out of list items and includes
metadata.managedFields, which kubectl strips.

Faults are injected per resource and page (page 0 is the request without a continue
token): 410 Gone, 429 with Retry-After, 5xx, 401/403, and slow answers. Every request is
recorded with its arrival time (time.monotonic) so tests can check what the client did,
e.g. that it waited for Retry-After, without timing anything themselves.

    with FakeKubeApi(deployments=1200, hpas=800, faults=[Fault.gone("deployments", page=2)]) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        ...
        api.recorded_requests("deployments")

Run it by hand: python -m tests.support.fake_kube_api --deployments 1000 --hpas 1000
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
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
DEFAULT_TOKEN = "fake-token-for-tests"  # a test credential, only for the loopback fake
ALWAYS = -1  # Fault.times for a fault that never wears off
_ITEMS_PER_CHUNK = 100
_MAX_PREFETCHED_PAGES = 4

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
    def server_error(cls, resource: str, page: int, status: int = 500, times: int = 1) -> Fault:
        return cls(resource, page, status=status, times=times)

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a slow fault must not block shutdown
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out hang up on slow answers; that is the point, not an error.
        pass


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
            self._send_json(404, status_body(404))
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
        list_id = position["list"] if position else state.new_list_id()
        offset = position["offset"] if position else 0
        self._send_page(route, state.counts[route.plural], offset, limit, page, list_id, continue_token)

    def _send_page(
        self,
        route: _ResourceRoute,
        total: int,
        offset: int,
        limit: int | None,
        page: int,
        list_id: int,
        continue_token: str | None,
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
        for chunk in state.page_chunks(continue_token, route, offset, end):
            self._write_chunk(chunk)
        self._write_chunk(b"]}")
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _send_json(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
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
    ) -> None:
        self._state = _State(
            counts={"deployments": deployments, "horizontalpodautoscalers": hpas},
            token=token,
            faults=list(faults),
        )
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
        if self._server is None:
            raise RuntimeError("FakeKubeApi is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeKubeApi:
        self._server = _Server((LOOPBACK, 0), _ListHandler)
        self._server.state = self._state
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

    def write_kubeconfig(self, path: Path, context: str = "fake", token: str | None = None) -> Path:
        return write_kubeconfig(path, self.url, token if token is not None else self.token, context)


def write_kubeconfig(path: Path, server_url: str, token: str | None, context: str = "fake") -> Path:
    """A kubeconfig with one cluster/user/context, talking plain HTTP with a bearer token."""
    user: dict[str, Any] = {"token": token} if token else {}
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"{context}-cluster", "cluster": {"server": server_url}}],
        "users": [{"name": f"{context}-user", "user": user}],
        "contexts": [{"name": context, "context": {"cluster": f"{context}-cluster", "user": f"{context}-user"}}],
        "current-context": context,
        "preferences": {},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    return path


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

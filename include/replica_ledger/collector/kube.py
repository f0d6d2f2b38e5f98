"""Listing Deployments and HPAs cluster-wide with the official client, one page at a time.

Pages are fetched raw (`_preload_content=False`): the JSON goes straight to the archive,
so nothing is turned into client model objects (slow, and it would rename fields to
snake_case) and only one page is ever held in memory.

Every socket wait (connect, TLS handshake, each read of a page) is bounded by its own
timeout and by what is left of the capture's deadline, so a server that accepts a
connection and never answers costs at most the deadline. failures.py says which faults are
retried and how each one is reported.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from replica_ledger.collector.errors import CollectorError, DeadlineExceeded, PermanentError
from replica_ledger.collector.failures import (
    KUBECONFIG_SERVER_HINT,
    RBAC_MANIFEST,
    Endpoint,
    Failure,
    StalledAnswer,
    Timeouts,
    TlsFailure,
    classify_api_error,
    classify_transport_error,
    not_a_list_page,
)
from replica_ledger.collector.resources import (
    DEPLOYMENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    ListedResource,
)
from replica_ledger.collector.settings import ENV_PREFIX, CollectorSettings
from replica_ledger.http_retry import Deadline, retry_wait

__all__ = ["RBAC_MANIFEST", "ResourceLister", "build_api_client"]

log = logging.getLogger(__name__)

_READ_CHUNK_BYTES = 1 << 20
# The kubeconfig loader reports some malformed (but valid YAML) files only by failing inside,
# e.g. `clusters: x`; whatever it raises, the file is unusable and the operator must fix it.
_CONFIG_LOAD_ERRORS = (ConfigException, OSError, yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError)
_TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, TlsFailure, StalledAnswer, OSError, ValueError)


# ----------------------------------------------------------------------------- the client


def build_api_client(kubeconfig: str | None, context: str | None) -> client.ApiClient:
    """In-cluster service account without a kubeconfig (the pod case), the kubeconfig otherwise.

    Everything that makes the configuration unusable (unreadable file, not YAML, unknown
    context, a server that is not an http(s) URL) is a PermanentError, before any request.
    """
    configuration = client.Configuration()
    if kubeconfig:
        _check_kubeconfig_document(kubeconfig)
        source = f"kubeconfig {kubeconfig}"
        try:
            config.load_kube_config(
                config_file=kubeconfig,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except _CONFIG_LOAD_ERRORS as exc:
            raise PermanentError(f"cannot load {source}: {exc}") from exc
    else:
        source = "the in-cluster configuration"
        try:
            config.load_incluster_config(client_configuration=configuration)
        except (ConfigException, OSError) as exc:
            raise PermanentError(f"no in-cluster service account ({exc}); outside a pod pass --kubeconfig") from exc
    _check_server_url(configuration.host, source)
    # urllib3 would otherwise retry on its own, behind our backoff, bounds and messages.
    configuration.retries = False
    api_client = client.ApiClient(configuration)
    api_client.rest_client.pool_manager = _KeepTlsErrors(api_client.rest_client.pool_manager)
    return api_client


def _check_kubeconfig_document(path: str) -> None:
    """Read and parse the kubeconfig first: the client's loader would crash on some bad files."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PermanentError(f"cannot read kubeconfig {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PermanentError(f"kubeconfig {path} is not UTF-8 text: {exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PermanentError(f"kubeconfig {path} is not valid YAML: {_yaml_problem(exc)}") from exc
    if not isinstance(document, dict):
        found = "an empty file" if document is None else f"a YAML {type(document).__name__}"
        raise PermanentError(
            f"kubeconfig {path} is not a kubeconfig: expected a mapping with clusters, users and contexts, "
            f"found {found}"
        )


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(exc)


def _check_server_url(url: str | None, source: str) -> None:
    parts = urlsplit(url or "")
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = "it does not start with https:// or http://"
    else:
        try:
            urllib3.util.parse_url(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except (urllib3.exceptions.LocationParseError, ValueError) as exc:
            problem = str(exc)
        else:
            if not parts.hostname:
                problem = "it names no host"
    if problem:
        raise PermanentError(
            f"the API server URL {url!r} from {source} is not usable: {problem} "
            f"(expected https://HOST[:PORT]; {KUBECONFIG_SERVER_HINT})"
        )


class _KeepTlsErrors:
    """The client's pool manager, except that TLS errors come out as TlsFailure.

    The client's REST layer turns urllib3's SSLError into an ApiException without a body,
    on which its ApiClient then crashes (`e.body.decode` on None, kubernetes 36), hiding the
    cause. TlsFailure is not an exception either layer catches, so it arrives intact.
    """

    def __init__(self, pool_manager: Any) -> None:
        self._pool_manager = pool_manager

    def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._pool_manager.request(*args, **kwargs)
        except urllib3.exceptions.SSLError as exc:
            raise TlsFailure(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool_manager, name)


# ----------------------------------------------------------------------------- listing


class ResourceLister:
    """Fetches list pages with limit/continue, retrying what a retry can fix, within the deadline."""

    def __init__(
        self,
        api_client: client.ApiClient,
        settings: CollectorSettings,
        deadline: Deadline | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._schedule = settings.backoff_schedule()
        self._deadline = deadline or Deadline(settings.deadline_s)
        self._sleep = sleep
        self._endpoint = Endpoint(api_client.configuration.host)
        apps = client.AppsV1Api(api_client)
        autoscaling = client.AutoscalingV2Api(api_client)
        self._list_calls: dict[ListedResource, Callable[..., Any]] = {
            DEPLOYMENTS: apps.list_deployment_for_all_namespaces,
            HORIZONTAL_POD_AUTOSCALERS: autoscaling.list_horizontal_pod_autoscaler_for_all_namespaces,
        }

    def iter_pages(self, resource: ListedResource) -> Iterator[list[dict[str, Any]]]:
        """Items of each page in turn; raises ListExpired if the continue token expires."""
        continue_token: str | None = None
        while True:
            page = self.fetch_page(resource, continue_token)
            yield page.get("items") or []
            continue_token = (page.get("metadata") or {}).get("continue") or None
            if continue_token is None:
                return

    def fetch_page(self, resource: ListedResource, continue_token: str | None) -> dict[str, Any]:
        earlier: Failure | None = None
        timeouts_in_a_row = 0
        for attempt in itertools.count(1):
            if self._deadline.expired():
                raise DeadlineExceeded(f"{self._deadline_text()} ran out while listing {resource.qualified_name}")
            timeouts = self._timeouts()
            try:
                return self._request_page(resource, continue_token, timeouts)
            except ApiException as exc:
                failure = classify_api_error(resource, exc, self._endpoint)
            except _TRANSPORT_ERRORS as exc:
                failure = classify_transport_error(exc, self._endpoint, timeouts)
            timeouts_in_a_row = timeouts_in_a_row + 1 if failure.timed_out else 0
            reported = failure
            if timeouts.cut_by_deadline and earlier is not None and earlier.description != failure.description:
                # A last try cut short by the deadline says little; what failed before it says more.
                reported = Failure(f"{failure.description}; before that: {earlier.description}", failure.headers)
            self._wait_before_retry(resource, attempt, reported, timeouts_in_a_row)
            earlier = failure
        raise AssertionError("unreachable")  # itertools.count never ends

    def _wait_before_retry(
        self, resource: ListedResource, attempt: int, failure: Failure, timeouts_in_a_row: int
    ) -> None:
        name = resource.qualified_name
        if self._deadline.expired():
            raise DeadlineExceeded(f"{self._deadline_text()} ran out while listing {name}: {failure.description}")
        if attempt > self._settings.max_retries:
            raise CollectorError(f"giving up listing {name} after {_attempts(attempt)}: {failure.description}")
        if timeouts_in_a_row >= self._settings.max_timeouts:
            raise CollectorError(
                f"giving up listing {name} after {_attempts(attempt)}: {failure.description}; "
                f"{timeouts_in_a_row} timeouts in a row ({ENV_PREFIX}MAX_TIMEOUTS)"
            )
        delay = retry_wait(self._schedule, attempt, failure.headers, deadline=self._deadline)
        if delay is None:
            raise DeadlineExceeded(
                f"giving up listing {name} after {_attempts(attempt)}: {failure.description}; "
                f"the next retry would start after the {self._deadline_text()}"
            )
        log.warning(
            "listing %s failed (%s); retry %d/%d in %.2fs",
            name,
            failure.description,
            attempt,
            self._settings.max_retries,
            delay,
        )
        self._sleep(delay)

    def _deadline_text(self) -> str:
        return f"deadline of {self._settings.deadline_s:g}s ({ENV_PREFIX}DEADLINE_SECONDS)"

    def _timeouts(self) -> Timeouts:
        connect_s = self._deadline.bound(self._settings.connect_timeout_s)
        read_s = self._deadline.bound(self._settings.read_timeout_s)
        return Timeouts(
            connect_s,
            read_s,
            connect_cut=connect_s < self._settings.connect_timeout_s,
            read_cut=read_s < self._settings.read_timeout_s,
        )

    def _request_page(self, resource: ListedResource, continue_token: str | None, timeouts: Timeouts) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "limit": self._settings.page_size,
            "_preload_content": False,
            "_request_timeout": (timeouts.connect_s, timeouts.read_s),
        }
        if continue_token:
            kwargs["_continue"] = continue_token
        response = self._list_calls[resource](**kwargs)
        try:
            body = self._read_body(response)
        finally:
            response.release_conn()
        content_type = response.headers.get("Content-Type")
        try:
            page = json.loads(body)
        except ValueError as exc:
            raise not_a_list_page(resource, self._endpoint, content_type, f"not JSON: {exc}") from exc
        if not isinstance(page, dict):
            raise not_a_list_page(resource, self._endpoint, content_type, "not a JSON object")
        return page

    def _read_body(self, response: urllib3.HTTPResponse) -> bytearray:
        """The whole body, each socket read bounded by the read timeout and the deadline.

        A server that sends a byte now and then never trips a per-read timeout; checking the
        deadline between reads, and shrinking the socket timeout to what is left of it, ends
        such a page in time too.
        """
        body = bytearray()
        complete = False
        try:
            while True:
                if self._deadline.expired():
                    raise StalledAnswer("deadline reached mid-page")
                _set_read_timeout(response, self._deadline.bound(self._settings.read_timeout_s))
                try:
                    chunk = response.read(_READ_CHUNK_BYTES)
                except urllib3.exceptions.ReadTimeoutError as exc:
                    raise StalledAnswer(str(exc)) from exc
                if not chunk:
                    complete = True
                    return body
                body += chunk
        finally:
            if not complete:
                response.close()  # never hand a half-read connection back to the pool


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _set_read_timeout(response: urllib3.HTTPResponse, timeout_s: float) -> None:
    connection = getattr(response, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(timeout_s)

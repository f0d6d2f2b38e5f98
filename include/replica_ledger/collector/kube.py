"""Listing Deployments and HPAs cluster-wide with the official client, one page at a time.

Pages are fetched raw (`_preload_content=False`): the JSON goes straight to the archive,
so nothing is turned into client model objects (slow, and it would rename fields to
snake_case) and only one page is ever held in memory.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from replica_ledger.collector.errors import AccessDenied, CollectorError, ListExpired
from replica_ledger.collector.resources import (
    DEPLOYMENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    ListedResource,
)
from replica_ledger.collector.retry import is_retryable_status, retry_delay_s
from replica_ledger.collector.settings import ENV_PREFIX, CollectorSettings

log = logging.getLogger(__name__)

RBAC_MANIFEST = "include/k8s/rbac.yaml"


def build_api_client(kubeconfig: str | None, context: str | None) -> client.ApiClient:
    """In-cluster service account without a kubeconfig (the pod case), the kubeconfig otherwise."""
    configuration = client.Configuration()
    try:
        if kubeconfig:
            config.load_kube_config(
                config_file=kubeconfig,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            config.load_incluster_config(client_configuration=configuration)
    except (ConfigException, OSError) as exc:
        raise CollectorError(_describe_config_failure(kubeconfig, exc)) from exc
    # urllib3 would otherwise retry read timeouts on its own, behind our backoff and bounds.
    configuration.retries = False
    return client.ApiClient(configuration)


def _describe_config_failure(kubeconfig: str | None, exc: Exception) -> str:
    if kubeconfig:
        return f"cannot load kubeconfig {kubeconfig}: {exc}"
    return f"no in-cluster service account ({exc}); outside a pod pass --kubeconfig"


@dataclass(frozen=True)
class _RetryableFailure:
    description: str
    headers: Any = None


class ResourceLister:
    """Fetches list pages with limit/continue, retrying what a retry can fix."""

    def __init__(
        self,
        api_client: client.ApiClient,
        settings: CollectorSettings,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
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
        for attempt in itertools.count(1):
            try:
                return self._request_page(resource, continue_token)
            except ApiException as exc:
                failure = _classify_api_error(resource, exc)
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                # Timeouts, dropped connections, truncated or garbled bodies: all worth another try.
                failure = _RetryableFailure(self._describe_transport_failure(exc))
            if attempt > self._settings.max_retries:
                raise CollectorError(
                    f"giving up listing {resource.qualified_name} after {attempt} attempts: {failure.description}"
                )
            delay = retry_delay_s(attempt, self._settings, failure.headers)
            log.warning(
                "listing %s failed (%s); retry %d/%d in %.2fs",
                resource.qualified_name,
                failure.description,
                attempt,
                self._settings.max_retries,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # itertools.count never ends

    def _request_page(self, resource: ListedResource, continue_token: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "limit": self._settings.page_size,
            "_preload_content": False,
            "_request_timeout": (self._settings.connect_timeout_s, self._settings.read_timeout_s),
        }
        if continue_token:
            kwargs["_continue"] = continue_token
        response = self._list_calls[resource](**kwargs)
        try:
            body = response.data
        finally:
            response.release_conn()
        page = json.loads(body)
        if not isinstance(page, dict):
            raise ValueError(f"expected a JSON object, got {type(page).__name__}")
        return page

    def _describe_transport_failure(self, exc: Exception) -> str:
        if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
            return f"no response within {self._settings.read_timeout_s:g}s (read timeout, {ENV_PREFIX}READ_TIMEOUT)"
        if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
            return (
                f"no connection within {self._settings.connect_timeout_s:g}s "
                f"(connect timeout, {ENV_PREFIX}CONNECT_TIMEOUT)"
            )
        return f"{type(exc).__name__}: {exc}"


def _classify_api_error(resource: ListedResource, exc: ApiException) -> _RetryableFailure:
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
    description = f"HTTP {status} {exc.reason or ''}".rstrip() + _status_message(exc)
    if is_retryable_status(status):
        return _RetryableFailure(description, exc.headers)
    raise CollectorError(f"listing {resource.qualified_name} failed: {description}") from exc


def _status_message(exc: ApiException) -> str:
    """The `message` of the Kubernetes Status object in the error body, if there is one."""
    try:
        message = json.loads(exc.body or b"").get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message}" if message else ""

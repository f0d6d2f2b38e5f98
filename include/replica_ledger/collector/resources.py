"""The two resources a snapshot holds, in the order kubectl prints them.

`kubectl get deployments.apps,horizontalpodautoscalers.autoscaling -A -o json` lists
Deployments first, then HPAs, and stamps each item with the apiVersion and kind of the
list it came from (the API server leaves both out of list items).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ListedResource:
    plural: str
    group: str
    api_version: str
    kind: str

    @property
    def qualified_name(self) -> str:
        """The name RBAC and kubectl use, e.g. deployments.apps."""
        return f"{self.plural}.{self.group}"


DEPLOYMENTS = ListedResource(plural="deployments", group="apps", api_version="apps/v1", kind="Deployment")
HORIZONTAL_POD_AUTOSCALERS = ListedResource(
    plural="horizontalpodautoscalers",
    group="autoscaling",
    api_version="autoscaling/v2",
    kind="HorizontalPodAutoscaler",
)
SNAPSHOT_RESOURCES: tuple[ListedResource, ...] = (DEPLOYMENTS, HORIZONTAL_POD_AUTOSCALERS)

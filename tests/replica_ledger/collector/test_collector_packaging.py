"""What ships around the collector: RBAC manifests, the image's Dockerfile and its pinned requirements.

No Docker engine here, so the Dockerfile is checked as text; the manifests are validated
against the Kubernetes OpenAPI schemas with kubernetes-validate.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[3]
RBAC = REPO_ROOT / "include" / "k8s" / "rbac.yaml"
DOCKERFILE = REPO_ROOT / "docker" / "collector.Dockerfile"
IMAGE_REQUIREMENTS = REPO_ROOT / "docker" / "collector-requirements.txt"
AIRFLOW3_LOCK = REPO_ROOT / "requirements" / "airflow3.lock.txt"
# The oldest GKE minor still in support and the newest schema the validator knows.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
# Collector deployment target: python:3.11-slim on linux/amd64.
IMAGE_MARKER_ENV = {
    "python_version": "3.11",
    "python_full_version": "3.11.9",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}


def rbac_documents() -> list[dict]:
    return [doc for doc in yaml.safe_load_all(RBAC.read_text()) if doc]


def by_kind(kind: str) -> dict:
    (document,) = [doc for doc in rbac_documents() if doc["kind"] == kind]
    return document


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line)
        if match:
            found[canonicalize_name(match[1])] = match[2]
    return found


# ----------------------------------------------------------------------------- RBAC


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_are_valid_kubernetes_objects(version):
    documents = rbac_documents()
    assert [doc["kind"] for doc in documents] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)


def test_cluster_role_grants_only_get_and_list_on_the_two_listed_resources():
    rules = by_kind("ClusterRole")["rules"]
    granted = {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("apps", "deployments", "get"),
        ("apps", "deployments", "list"),
        ("autoscaling", "horizontalpodautoscalers", "get"),
        ("autoscaling", "horizontalpodautoscalers", "list"),
    }
    assert not any("resourceNames" in rule or "nonResourceURLs" in rule for rule in rules)


def test_binding_ties_the_role_to_the_collector_service_account():
    account = by_kind("ServiceAccount")["metadata"]
    binding = by_kind("ClusterRoleBinding")
    assert account["namespace"] == "replica-ledger"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": by_kind("ClusterRole")["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]


def test_the_403_message_points_at_this_manifest():
    from replica_ledger.collector.kube import RBAC_MANIFEST

    assert (REPO_ROOT / RBAC_MANIFEST) == RBAC


# ----------------------------------------------------------------------------- image


def test_dockerfile_builds_a_non_root_collector_image_from_python_311_slim():
    text = DOCKERFILE.read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert instructions[0] == "FROM python:3.11-slim"
    assert instructions[-1] == 'ENTRYPOINT ["python", "-m", "replica_ledger.collector"]'
    (user,) = [line for line in instructions if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in {"0", "root"}
    assert "--no-deps --requirement /tmp/collector-requirements.txt" in text
    for source in re.findall(r"^COPY (\S+) ", text, flags=re.MULTILINE):
        assert (REPO_ROOT / source).exists(), source


def test_the_image_holds_every_replica_ledger_module_the_collector_imports(tmp_path):
    """The image copies only some of replica_ledger: lay those files out as the Dockerfile does
    and import every collector module from there alone (this interpreter's site-packages
    stand in for the pinned requirements)."""
    app = tmp_path / "app"
    for source, target in re.findall(r"^COPY (include/\S+) /app/(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE):
        source_path, target_path = REPO_ROOT / source, app / target
        if source_path.is_dir():
            shutil.copytree(source_path, target_path, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source_path, target_path)
    modules = sorted(
        f"replica_ledger.collector.{path.stem}" for path in (app / "replica_ledger/collector").glob("*.py")
    )
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "ours = [m.__file__ for m in list(sys.modules.values()) if m.__name__.startswith('replica_ledger')]\n"
        "print(json.dumps(sorted(ours)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(app)}
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout)
    assert loaded and all(name.startswith(str(app)) for name in loaded), loaded
    assert str(app / "replica_ledger" / "http_retry.py") in loaded


def test_image_requirements_are_pinned_to_the_airflow3_lock():
    image, lock = pins(IMAGE_REQUIREMENTS), pins(AIRFLOW3_LOCK)
    unpinned = [
        line
        for line in IMAGE_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#") and "==" not in line
    ]
    assert unpinned == []
    assert {"kubernetes", "google-cloud-storage"} <= set(image)
    assert {name: version for name, version in image.items() if lock.get(name) != version} == {}


def test_image_requirements_are_the_complete_dependency_closure():
    """--no-deps installs exactly this list, so it must hold every transitive dependency."""
    image = pins(IMAGE_REQUIREMENTS)
    try:
        installed_kubernetes = distribution("kubernetes").version
    except PackageNotFoundError:  # pragma: no cover - the dev environments always have it
        pytest.skip("kubernetes is not installed")
    if installed_kubernetes != image["kubernetes"]:
        pytest.skip(f"installed kubernetes {installed_kubernetes} is not the image's {image['kubernetes']}")
    closure: set[str] = set()
    pending = ["kubernetes", "google-cloud-storage"]
    while pending:
        name = canonicalize_name(pending.pop())
        if name in closure:
            continue
        closure.add(name)
        for requirement in map(Requirement, distribution(name).requires or []):
            if requirement.marker is None or requirement.marker.evaluate(IMAGE_MARKER_ENV):
                pending.append(requirement.name)
    assert set(image) == closure


def test_the_validator_would_catch_a_broken_manifest():
    """Guards the test above: strict validation does reject typos and wrong types."""
    role = by_kind("ClusterRole")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**role, "rulez": role["rules"]}, KUBERNETES_VERSIONS[-1], strict=True)
    broken_rule = {**role["rules"][0], "verbs": "list"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**role, "rules": [broken_rule]}, KUBERNETES_VERSIONS[-1], strict=True)

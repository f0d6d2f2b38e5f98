"""A day's policy folder: the files' bytes, their manifest, and where they are written.

    dt=YYYY-MM-DD/configmaps.yaml              the ConfigMaps, by namespace
    dt=YYYY-MM-DD/admission.yaml               the two policies and their bindings
    dt=YYYY-MM-DD/clusterrules-<cluster>.yaml  one ClusterRules per cluster
    dt=YYYY-MM-DD/manifest.json                every other file's name and sha256, written last

The bytes depend on the objects only (sorted keys, no timestamp): an unchanged registry
gives identical files. The manifest names no day either, so it is identical too.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from replica_ledger.policies import objects
from replica_ledger.settings import GCS_SCHEME

try:  # libyaml's emitter: the same output, several times faster (a 5,000-API folder)
    _DUMPER = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _DUMPER = yaml.SafeDumper

CONFIG_MAPS = "configmaps.yaml"
ADMISSION = "admission.yaml"
MANIFEST = "manifest.json"


def rules_file(cluster: str) -> str:
    return f"clusterrules-{cluster}.yaml"


def render(documents: list[dict]) -> bytes:
    """Multi-document YAML, keys sorted, long expressions on one line."""
    return yaml.dump_all(
        documents, Dumper=_DUMPER, sort_keys=True, default_flow_style=False, width=1 << 16, explicit_start=True
    ).encode()


@dataclass(frozen=True)
class DayFiles:
    files: dict[str, bytes]  # name -> bytes, the manifest included

    def manifest(self) -> dict:
        return json.loads(self.files[MANIFEST])


def build_files(
    limits: list[objects.Limit],
    clusters: list[str],
    actions: tuple[str, ...],
    emptied_namespaces: list[str] = (),
) -> DayFiles:
    """Every file of a day's folder from the limits in force, the clusters and the actions."""
    limits = objects.checked(limits)
    current = {limit.namespace for limit in limits}
    emptied = sorted(set(emptied_namespaces) - current)
    files = {
        CONFIG_MAPS: render(objects.config_maps(limits, emptied)),
        ADMISSION: render(objects.admission(actions)),
    }
    for cluster in sorted(set(clusters)):
        files[rules_file(cluster)] = render([objects.cluster_rules(cluster, limits)])
    manifest = {
        "files": [{"name": name, "sha256": hashlib.sha256(data).hexdigest()} for name, data in sorted(files.items())],
        "limits": len(limits),
        "namespaces": len(current) + len(emptied),
        "clusters": sorted(set(clusters)),
        "validation_actions": list(actions),
    }
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return DayFiles(files)


def day_folder(day: date) -> str:
    return day_folder_template(day.isoformat())


def day_folder_template(day_text: str) -> str:
    """`dt=<day>`; the DAG passes Airflow's `{{ ds }}` (the snapshot day) as the text."""
    return f"dt={day_text}"


# --------------------------------------------------------------------------- where


def write_local(root: Path, day: date, day_files: DayFiles) -> str:
    """Each file replaced whole (a reader never sees half a file), the manifest last."""
    folder = Path(root) / day_folder(day)
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(day_files.files, key=lambda n: n == MANIFEST):
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(day_files.files[name])
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would keep the objects from whoever applies them
        os.replace(temporary, folder / name)
    return str(folder)


def split_gcs(url: str) -> tuple[str, str]:
    bucket, _, prefix = url.removeprefix(GCS_SCHEME).partition("/")
    return bucket, prefix.strip("/")


def write_gcs(url: str, day: date, day_files: DayFiles, client) -> str:
    """Objects under gs://BUCKET/PREFIX/dt=D/, the manifest last (its presence says the day is whole)."""
    from google.api_core.retry import Retry

    bucket_name, prefix = split_gcs(url)
    bucket = client.bucket(bucket_name)
    base = f"{prefix}/{day_folder(day)}" if prefix else day_folder(day)
    retry = Retry(initial=1.0, maximum=30.0, multiplier=2.0, timeout=300.0)
    for name in sorted(day_files.files, key=lambda n: n == MANIFEST):
        content_type = "application/json" if name.endswith(".json") else "application/yaml"
        bucket.blob(f"{base}/{name}").upload_from_string(day_files.files[name], content_type=content_type, retry=retry)
    return f"{GCS_SCHEME}{bucket_name}/{base}"


def read_local(root: Path, day: date) -> dict[str, bytes]:
    folder = Path(root) / day_folder(day)
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if not path.name.startswith(".")}

"""The production apply of a day's policy folder (REPLICA_LEDGER_POLICY_APPLY=true): the
script one pod per cluster runs (`airflow/dag_gcp.py`, `build_policy_apply`).

The pod copies the day's folder from GCS, checks every file against the manifest's sha256,
then applies with server-side apply under one field manager: the policies and bindings,
the cluster's ClusterRules, the ConfigMaps. A key the registry no longer has is dropped
from the ConfigMap because the field manager owned it and the new object leaves it out (a
namespace whose last limit went keeps an empty ConfigMap for that reason). A namespace
that does not exist in this cluster is skipped; any other error fails the pod.

The pod's identity needs the RBAC of deploy/policy-apply-rbac.yaml only: the objects by
name, nothing else (docs/policies.md, "Apply").
"""

from __future__ import annotations

import shlex

from replica_ledger.policies import folder

FIELD_MANAGER = "replica-ledger"
# The image's python3 reads the manifest; sha256sum checks the files against it.
_VERIFY = (
    'python3 -c \'import json; [print(f["sha256"] + "  " + f["name"]) '
    'for f in json.load(open("manifest.json"))["files"]]\' | sha256sum --check --strict --quiet -'
)


def apply_script(folder_url: str, cluster: str, kubeconfig: str | None = None) -> str:
    """The shell script of the cluster's apply pod; `folder_url` is the day's gs:// folder."""
    kubectl = ["kubectl"]
    if kubeconfig:
        kubectl += ["--kubeconfig", kubeconfig, "--context", cluster]
    apply = shlex.join([*kubectl, "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts"])
    rules = shlex.quote(folder.rules_file(cluster))
    return "\n".join(
        [
            "set -euo pipefail",
            'work=$(mktemp -d) && cd "$work"',
            f"gcloud storage cp {shlex.quote(folder_url.rstrip('/') + '/*')} .",
            _VERIFY,
            f"{apply} -f {folder.ADMISSION}",
            f"{apply} -f {rules}",
            # Only "no such namespace in this cluster" is tolerated; the rest of the file still applies.
            f"{apply} -f {folder.CONFIG_MAPS} 2>errors.txt || true",
            "if grep -v -E '^Error from server \\(NotFound\\).*namespaces \"[a-z0-9-]+\" not found' errors.txt"
            " | grep -q .; then cat errors.txt >&2; exit 1; fi",
            'echo "namespaces absent from this cluster: $(grep -c . errors.txt || true)"',
        ]
    )

"""The apply pod's script, run by a real bash with the real sha256sum and python3, with
stand-ins for the two programs this machine lacks: `gcloud storage cp` (a bucket is a folder)
and `kubectl` (records its arguments; answers NotFound for namespaces it is told are absent)."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from replica_ledger.policies import apply, folder, objects

DAY = date(2026, 10, 11)
LIMITS = [objects.Limit("payments", "payments-api", 6), objects.Limit("orders", "orders-api", 4)]

GCLOUD = """#!/bin/sh
# gcloud storage cp 'gs://BUCKET/PATH/*' DEST
[ "$1 $2" = "storage cp" ] || exit 2
src=$(printf '%s' "$3" | sed -e 's|^gs://|'"$FAKE_BUCKETS"'/|' -e 's|/\\*$||')
cp "$src"/* "$4"
"""
KUBECTL = """#!/bin/sh
echo "$*" >> "$FAKE_CALLS"
case "$*" in
  *configmaps.yaml*)
    for ns in $FAKE_ABSENT; do
      echo "Error from server (NotFound): error when creating \\"configmaps.yaml\\": namespaces \\"$ns\\" not found" >&2
    done
    if [ -n "$FAKE_FORBIDDEN" ]; then
      echo 'Error from server (Forbidden): configmaps "replica-ledger-limits" is forbidden' >&2
    fi
    [ -z "$FAKE_ABSENT$FAKE_FORBIDDEN" ] || exit 1 ;;
esac
"""


@pytest.fixture
def pod(tmp_path: Path):
    """A bucket holding the day's folder, the stand-ins first on PATH, and a runner."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("gcloud", GCLOUD), ("kubectl", KUBECTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    buckets = tmp_path / "buckets"
    folder.write_local(buckets / "ledger" / "policies", DAY, folder.build_files(LIMITS, ["gke-eu"], ("Warn", "Audit")))
    calls = tmp_path / "calls.txt"

    def run(**env: str) -> subprocess.CompletedProcess:
        script = apply.apply_script("gs://ledger/policies/dt=2026-10-11", "gke-eu")
        environ = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "FAKE_BUCKETS": str(buckets),
            "FAKE_CALLS": str(calls),
            "TMPDIR": str(tmp_path),
            **env,
        }
        return subprocess.run(
            [shutil.which("bash"), "-c", script], capture_output=True, text=True, env=environ, timeout=60
        )

    run.calls = calls
    run.day_folder = buckets / "ledger" / "policies" / "dt=2026-10-11"
    return run


def _applied(calls: Path) -> list[str]:
    return [line.split(" -f ")[-1] for line in calls.read_text().splitlines()] if calls.exists() else []


def test_the_day_is_checked_then_applied_server_side_in_order(pod):
    done = pod()
    assert done.returncode == 0, done.stderr
    assert _applied(pod.calls) == ["admission.yaml", "clusterrules-gke-eu.yaml", "configmaps.yaml"]
    assert all(
        "apply --server-side --field-manager=replica-ledger --force-conflicts" in line
        for line in pod.calls.read_text().splitlines()
    )


def test_a_file_that_is_not_the_manifests_applies_nothing(pod):
    (pod.day_folder / "configmaps.yaml").write_text("data:\n  orders-api: '40'\n")
    done = pod()
    assert done.returncode != 0
    assert _applied(pod.calls) == []


def test_a_namespace_absent_from_the_cluster_is_skipped_and_any_other_error_fails(pod):
    skipped = pod(FAKE_ABSENT="orders")
    assert skipped.returncode == 0, skipped.stderr
    assert "namespaces absent from this cluster: 1" in skipped.stdout
    failed = pod(FAKE_ABSENT="orders", FAKE_FORBIDDEN="1")
    assert failed.returncode == 1
    assert "Forbidden" in failed.stderr

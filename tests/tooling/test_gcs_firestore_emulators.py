"""tooling.emulators.gcs and .firestore: the helpers the GCS/Firestore tests and `make demo-gcp` use.

The command-line entries run as real subprocesses with their own --state-dir, start a
real fake-gcs-server / Firestore emulator in the background and stop it again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tooling.emulators import firestore, gcs
from tooling.emulators._background import EmulatorError, process_runs

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_module(module: str, *args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, "--state-dir", str(state_dir), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def group_is_gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_bundled_binary_is_found():
    assert gcs.binary_path().name.startswith("fake-gcs-server-")
    assert os.access(gcs.binary_path(), os.X_OK)


def test_reset_leaves_no_bucket_and_the_client_ignores_the_environment(gcs_emulator, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")  # nothing listens there
    bucket = gcs_emulator.create_bucket("reset-me")
    bucket.blob("a/b.txt").upload_from_string(b"x")
    assert [blob.name for blob in gcs_emulator.client().list_blobs("reset-me")] == ["a/b.txt"]
    gcs_emulator.reset()
    assert list(gcs_emulator.client().list_buckets()) == []


def test_upload_folder_and_read_objects(empty_gcs, tmp_path: Path):
    (tmp_path / "dt=2026-10-11").mkdir()
    (tmp_path / "dt=2026-10-11" / "c.json").write_bytes(b"{}")
    (tmp_path / "top.txt").write_bytes(b"t")
    names = empty_gcs.upload_folder("archive-bucket", tmp_path, prefix="/snapshots/")
    assert names == ["snapshots/dt=2026-10-11/c.json", "snapshots/top.txt"]
    assert empty_gcs.upload_folder("archive-bucket", tmp_path / "dt=2026-10-11") == ["c.json"]
    assert empty_gcs.read_objects("archive-bucket", prefix="snapshots/dt=") == {"snapshots/dt=2026-10-11/c.json": b"{}"}


def test_filesystem_backend_keeps_objects_in_its_folder(tmp_path: Path):
    root = tmp_path / "gcs-root"
    emulator = gcs.start(backend="filesystem", root=root, log_path=tmp_path / "gcs.log")
    try:
        emulator.create_bucket("on-disk").blob("dt=2026-10-11/c.json").upload_from_string(b'{"k": 1}')
        assert emulator.client().bucket("on-disk").blob("dt=2026-10-11/c.json").download_as_bytes() == b'{"k": 1}'
        assert (root / "on-disk").is_dir()
    finally:
        emulator.stop()
    assert group_is_gone(emulator.pid)


@pytest.mark.parametrize(
    ("backend", "root", "message"),
    [("filesystem", None, "needs a root"), ("memory", Path("/tmp/x"), "only for the filesystem"), ("s3", None, "s3")],
)
def test_start_refuses_a_backend_that_does_not_fit(backend, root, message):
    with pytest.raises(EmulatorError, match=message):
        gcs.start(backend=backend, root=root)


def test_gcs_command_line_start_env_stop(tmp_path: Path):
    started = run_module("tooling.emulators.gcs", "start", "--bucket", "replica-archive", state_dir=tmp_path)
    assert started.returncode == 0, started.stderr
    state = json.loads((tmp_path / "gcs.json").read_text())
    try:
        assert started.stdout.splitlines()[-1] == f"export STORAGE_EMULATOR_HOST={state['url']}"
        assert "bucket gs://replica-archive created" in started.stdout
        again = run_module("tooling.emulators.gcs", "start", "--bucket", "replica-archive", state_dir=tmp_path)
        assert again.stdout.splitlines()[0] == f"fake-gcs-server already running: {state['url']} (pid {state['pid']})"
        attached = gcs.GcsEmulator.from_state(state)
        assert [bucket.name for bucket in attached.client().list_buckets()] == ["replica-archive"]
        env = run_module("tooling.emulators.gcs", "env", state_dir=tmp_path)
        assert env.stdout == f"export STORAGE_EMULATOR_HOST={state['url']}\n"
    finally:
        stopped = run_module("tooling.emulators.gcs", "stop", state_dir=tmp_path)
    assert stopped.stdout == f"fake-gcs-server stopped (pid {state['pid']})\n"
    assert not process_runs(state["pid"], "fake-gcs-server")
    assert not (tmp_path / "gcs.json").exists()
    assert run_module("tooling.emulators.gcs", "env", state_dir=tmp_path).returncode == 1


def test_firestore_reset_deletes_every_document_of_the_project(firestore_emulator):
    firestore_emulator.put_document("reset-project", "things/one", {"n": 1})
    firestore_emulator.put_document("other-project", "things/two", {"n": 2})
    firestore_emulator.reset("reset-project")
    assert firestore_emulator.projects == {"other-project"}
    firestore_emulator.reset()
    for project in ("reset-project", "other-project"):
        with pytest.raises(EmulatorError, match="HTTP 404"):
            firestore_emulator._request("GET", firestore_emulator.documents_url(project, "things/one"))


def test_typed_value_refuses_what_firestore_cannot_store():
    with pytest.raises(TypeError, match="set"):
        firestore.typed_value({1, 2})


def test_firestore_command_line_start_env_stop(tmp_path: Path):
    started = run_module("tooling.emulators.firestore", "start", state_dir=tmp_path)
    assert started.returncode == 0, started.stderr
    state = json.loads((tmp_path / "firestore.json").read_text())
    try:
        assert started.stdout.splitlines()[-1] == f"export FIRESTORE_EMULATOR_HOST={state['host']}"
        attached = firestore.FirestoreEmulator.from_state(state)
        assert attached.put_document("demo", "ped-apis/x", {"a": "b"})["fields"] == {"a": {"stringValue": "b"}}
        reset = run_module("tooling.emulators.firestore", "reset", "demo", state_dir=tmp_path)
        assert reset.stdout == "deleted every document of demo\n"
    finally:
        stopped = run_module("tooling.emulators.firestore", "stop", state_dir=tmp_path)
    assert stopped.stdout == f"Firestore emulator stopped (pid {state['pid']})\n"
    # gcloud, its shell and the JVM share one process group: all of it is gone.
    assert group_is_gone(state["pid"])

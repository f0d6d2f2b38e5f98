"""The Firestore emulator (gcloud's cloud-firestore-emulator component, a JVM) on 127.0.0.1.

Clients that honour FIRESTORE_EMULATOR_HOST=host:port (replica_ledger.ped.firestore does)
talk to it with plain HTTP. The emulator's JVM takes seconds to start, so tests share one
per session (tests/conftest.py: `firestore_emulator`, and `empty_firestore` which resets it).

    emulator = start()
    emulator.put_document("acme-platform", "ped-apis/pricing--quote-api", {"spec": {...}})
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host
    ...
    emulator.reset("acme-platform")          # every document of the project, gone
    emulator.stop()

From a shell (pid, port and log under .local/emulators/firestore.json and firestore.log)::

    python -m tooling.emulators.firestore start
    eval "$(python -m tooling.emulators.firestore env)"
    python -m tooling.emulators.firestore stop
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

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

NAME = "firestore"
EMULATOR_HOST_ENV = "FIRESTORE_EMULATOR_HOST"
DEFAULT_DATABASE = "(default)"
# The emulator's admin token: requests bearing it bypass security rules.
ADMIN_AUTHORIZATION = "Bearer owner"
READY_TIMEOUT_S = 120.0
_REQUEST_TIMEOUT_S = 30.0
# gcloud must neither prompt nor look for updates (no network here but the package registries).
_GCLOUD_ENV = {
    "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
    "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "1",
    "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
}


def typed_value(value: object) -> dict:
    """Plain Python -> a Firestore REST typed value (the inverse of ped.firestore.decode_value)."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}  # int64 travels as a JSON string
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, Mapping):
        return {"mapValue": {"fields": typed_fields(value)}}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [typed_value(item) for item in value]}}
    raise TypeError(f"no Firestore value for {type(value).__name__}")


def typed_fields(data: Mapping[str, object]) -> dict:
    return {name: typed_value(value) for name, value in data.items()}


@dataclass
class FirestoreEmulator:
    port: int
    pid: int
    log_path: Path
    # Set when this Python process started the emulator (then stop() also reaps it).
    process: subprocess.Popen | None = field(default=None, repr=False)
    # Projects written through put_document, so reset() without arguments clears them.
    projects: set[str] = field(default_factory=set, repr=False)

    @property
    def host(self) -> str:
        """The FIRESTORE_EMULATOR_HOST value: host:port, no scheme."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def env(self) -> dict[str, str]:
        return {EMULATOR_HOST_ENV: self.host}

    def documents_url(self, project: str, path: str = "", database: str = DEFAULT_DATABASE) -> str:
        base = f"{self.url}/v1/projects/{quote(project, safe='')}/databases/{quote(database, safe='()')}/documents"
        return f"{base}/{quote(path, safe='/')}" if path else base

    def put_document(
        self, project: str, path: str, data: Mapping[str, object], database: str = DEFAULT_DATABASE
    ) -> dict:
        """Create or replace the document at `path` ("collection/doc id"); returns it as stored.

        The emulator sets createTime/updateTime itself; a write that changes nothing keeps
        the previous updateTime, as Firestore does.
        """
        self.projects.add(project)
        body = json.dumps({"fields": typed_fields(data)}).encode()
        return self._request("PATCH", self.documents_url(project, path, database), body)

    def delete_document(self, project: str, path: str, database: str = DEFAULT_DATABASE) -> None:
        self._request("DELETE", self.documents_url(project, path, database))

    def reset(self, *projects: str) -> None:
        """Delete every document of `projects` (default: every project put_document wrote to)."""
        for project in projects or sorted(self.projects):
            url = f"{self.url}/emulator/v1/projects/{quote(project, safe='')}/databases/{DEFAULT_DATABASE}/documents"
            self._request("DELETE", url)
        self.projects.difference_update(projects or set(self.projects))

    def is_ready(self) -> bool:
        # The emulator answers "Ok" on / once its HTTP server is up.
        return http_status(f"{self.url}/") == 200

    def stop(self) -> None:
        stop_group(self.pid, self.process)

    def state(self) -> dict[str, object]:
        return {"pid": self.pid, "port": self.port, "host": self.host, "log": str(self.log_path)}

    @classmethod
    def from_state(cls, state: Mapping) -> FirestoreEmulator:
        return cls(state["port"], state["pid"], Path(state["log"]))

    def _request(self, method: str, url: str, body: bytes | None = None) -> dict:
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (http on loopback)
        request.add_header("Authorization", ADMIN_AUTHORIZATION)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=_REQUEST_TIMEOUT_S) as response:  # noqa: S310 (loopback)
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            raise EmulatorError(f"{method} {url} returned HTTP {error.code}: {detail}") from None
        return json.loads(payload) if payload.strip() else {}


def gcloud_path() -> str:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise EmulatorError(
            "gcloud is not on PATH: the Firestore emulator comes with the Google Cloud CLI "
            "(component cloud-firestore-emulator) and needs Java 11+"
        )
    return gcloud


def start(*, port: int | None = None, log_path: Path | None = None, timeout: float = READY_TIMEOUT_S):
    """Start the emulator and return once it answers HTTP (the JVM start takes a few seconds)."""
    port = port or free_port()
    log_path = log_path or STATE_DIR / f"{NAME}-{port}.log"
    argv = [gcloud_path(), "emulators", "firestore", "start", f"--host-port={LOOPBACK}:{port}"]
    process = spawn(argv, log_path, env=_GCLOUD_ENV)
    emulator = FirestoreEmulator(port, process.pid, log_path, process)
    wait_until_ready(process, emulator.is_ready, f"Firestore emulator on port {port}", log_path, timeout)
    return emulator


# ----------------------------------------------------------------------------- command line


def running_from_state(state_dir: Path = STATE_DIR) -> FirestoreEmulator | None:
    state = read_state(NAME, state_dir)
    if state is None:
        return None
    emulator = FirestoreEmulator.from_state(state)
    return emulator if process_runs(emulator.pid, "firestore") else None


def _cmd_start(args: argparse.Namespace) -> int:
    emulator = running_from_state(args.state_dir)
    if emulator is None:
        emulator = start(port=args.port, log_path=args.state_dir / f"{NAME}.log")
        write_state(NAME, emulator.state(), args.state_dir)
        print(f"Firestore emulator started: {emulator.url} (pid {emulator.pid})")
    else:
        print(f"Firestore emulator already running: {emulator.url} (pid {emulator.pid})")
    print(f"export {EMULATOR_HOST_ENV}={emulator.host}")
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    emulator = running_from_state(args.state_dir)
    forget_state(NAME, args.state_dir)
    if emulator is None:
        print("Firestore emulator is not running")
        return 0
    emulator.stop()
    print(f"Firestore emulator stopped (pid {emulator.pid})")
    return 0


def _cmd_env(args: argparse.Namespace) -> int:
    emulator = running_from_state(args.state_dir)
    if emulator is None:
        print("Firestore emulator is not running: python -m tooling.emulators.firestore start", file=sys.stderr)
        return 1
    print(f"export {EMULATOR_HOST_ENV}={emulator.host}")
    return 0


def _cmd_reset(args: argparse.Namespace) -> int:
    emulator = running_from_state(args.state_dir)
    if emulator is None:
        print("Firestore emulator is not running", file=sys.stderr)
        return 1
    emulator.reset(*args.project)
    print(f"deleted every document of {', '.join(args.project)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tooling.emulators.firestore", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help="where firestore.json and .log go")
    commands = parser.add_subparsers(dest="command", required=True)
    start_cmd = commands.add_parser("start", help="start in the background (nothing if already running)")
    start_cmd.add_argument("--port", type=int, default=None, help="default: a free port")
    commands.add_parser("stop", help="stop the emulator started with `start`")
    commands.add_parser("env", help=f"print `export {EMULATOR_HOST_ENV}=...` for the running emulator")
    reset_cmd = commands.add_parser("reset", help="delete every document of the given projects")
    reset_cmd.add_argument("project", nargs="+")
    return parser


def main(argv: list[str] | None = None) -> int:
    handlers = {"start": _cmd_start, "stop": _cmd_stop, "env": _cmd_env, "reset": _cmd_reset}
    return run_command(build_parser(), handlers, argv)


if __name__ == "__main__":
    raise SystemExit(main())

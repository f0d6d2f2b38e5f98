"""The BigQuery emulator (local-bigquery, patched: bigquery_server.py) on 127.0.0.1.

It runs in its own Python 3.13 venv, .venv/bq (`make .venv/bq/.installed`); this module is
the Python 3.11 side that starts it as a subprocess and talks to it with the real
google-cloud-bigquery client and dbt-bigquery.

In tests (tests/dbt/conftest.py has the session fixture `bigquery_emulator`)::

    emulator = start(data_dir=tmp)          # free ports, waits until it answers
    client = emulator.client()              # google-cloud-bigquery, anonymous
    env = emulator.dbt_env()                # REPLICA_LEDGER_DBT_TARGET=bigquery_emulator, ...
    emulator.stop()

From a shell (pid, ports and log go to .local/emulators/bigquery.json and bigquery.log)::

    python -m tooling.emulators.bigquery start [--data-dir .local/bigquery]
    eval "$(python -m tooling.emulators.bigquery env)"
    python -m tooling.emulators.bigquery stop
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.emulators._background import (
    LOOPBACK,
    REPO_ROOT,
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
    from google.cloud import bigquery

NAME = "bigquery"
VENV = REPO_ROOT / ".venv" / "bq"
SERVER = Path(__file__).with_name("bigquery_server.py")
DEFAULT_PROJECT = "replica-ledger-dev"
DEFAULT_DATA_DIR = REPO_ROOT / ".local" / "bigquery"
ENDPOINT_ENV = "REPLICA_LEDGER_BQ_API_ENDPOINT"
DBT_TARGET = "bigquery_emulator"
# The first start creates the DuckLake catalog and loads the extensions: a few seconds.
READY_TIMEOUT_S = 60.0


def venv_python(venv: Path = VENV) -> Path:
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists() or not python.exists():
        raise EmulatorError(f"the BigQuery emulator venv {venv} is not installed: make .venv/bq/.installed")
    return python


def is_installed(venv: Path = VENV) -> bool:
    return (venv / ".installed").exists() and (venv / "bin" / "python").exists()


@dataclass
class BigQueryEmulator:
    port: int
    grpc_port: int
    pid: int
    project: str
    data_dir: Path
    log_path: Path
    # Set when this Python process started the server (then stop() also reaps it).
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def client(self, project: str | None = None) -> bigquery.Client:
        """A google-cloud-bigquery Client bound to this emulator, whatever the environment says."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=project or self.project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )

    def env(self) -> dict[str, str]:
        """What dbt's `bigquery_emulator` output (dbt_project/profiles.yml) needs to come here."""
        return {ENDPOINT_ENV: self.endpoint, "REPLICA_LEDGER_GCP_PROJECT": self.project}

    def dbt_env(self) -> dict[str, str]:
        return {**self.env(), "REPLICA_LEDGER_DBT_TARGET": DBT_TARGET}

    def is_ready(self) -> bool:
        return http_status(f"{self.endpoint}/bigquery/v2/projects/{self.project}/datasets") == 200

    def stop(self) -> None:
        stop_group(self.pid, self.process)

    def state(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "port": self.port,
            "grpc_port": self.grpc_port,
            "endpoint": self.endpoint,
            "project": self.project,
            "data_dir": str(self.data_dir),
            "log": str(self.log_path),
        }

    @classmethod
    def from_state(cls, state: dict) -> BigQueryEmulator:
        return cls(
            state["port"],
            state["grpc_port"],
            state["pid"],
            state["project"],
            Path(state["data_dir"]),
            Path(state["log"]),
        )


def start(
    *,
    data_dir: Path = DEFAULT_DATA_DIR,
    port: int | None = None,
    project: str = DEFAULT_PROJECT,
    log_path: Path | None = None,
    venv: Path = VENV,
    timeout: float = READY_TIMEOUT_S,
) -> BigQueryEmulator:
    """Start the patched emulator and return once it answers the REST API.

    `data_dir` keeps the tables (DuckLake files); an existing one is served as it is.
    """
    python = venv_python(venv)
    port = port or free_port()
    grpc_port = free_port()
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_path or STATE_DIR / f"{NAME}-{port}.log"
    argv = [str(python), str(SERVER), "--port", str(port), "--grpc-port", str(grpc_port)]
    argv += ["--data-dir", str(data_dir), "--project", project]
    # No proxy: the client and the server only talk over the loopback interface.
    process = spawn(argv, log_path, env={"NO_PROXY": LOOPBACK, "no_proxy": LOOPBACK})
    emulator = BigQueryEmulator(port, grpc_port, process.pid, project, data_dir, log_path, process)
    wait_until_ready(process, emulator.is_ready, f"BigQuery emulator on port {port}", log_path, timeout)
    return emulator


# ----------------------------------------------------------------------------- command line


def running_from_state(state_dir: Path = STATE_DIR) -> BigQueryEmulator | None:
    state = read_state(NAME, state_dir)
    if state is None:
        return None
    emulator = BigQueryEmulator.from_state(state)
    return emulator if process_runs(emulator.pid, SERVER.name) else None


def _exports(emulator: BigQueryEmulator) -> str:
    return "\n".join(f"export {name}={value}" for name, value in emulator.env().items())


def _cmd_start(args: argparse.Namespace) -> int:
    emulator = running_from_state(args.state_dir)
    if emulator is None:
        emulator = start(
            data_dir=args.data_dir,
            port=args.port,
            project=args.project,
            log_path=args.state_dir / f"{NAME}.log",
        )
        write_state(NAME, emulator.state(), args.state_dir)
        print(f"BigQuery emulator started: {emulator.endpoint} (pid {emulator.pid}, project {emulator.project})")
    else:
        print(f"BigQuery emulator already running: {emulator.endpoint} (pid {emulator.pid})")
    print(_exports(emulator))
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    emulator = running_from_state(args.state_dir)
    forget_state(NAME, args.state_dir)
    if emulator is None:
        print("BigQuery emulator is not running")
        return 0
    emulator.stop()
    print(f"BigQuery emulator stopped (pid {emulator.pid})")
    return 0


def _cmd_env(args: argparse.Namespace) -> int:
    emulator = running_from_state(args.state_dir)
    if emulator is None:
        print("BigQuery emulator is not running: python -m tooling.emulators.bigquery start", file=sys.stderr)
        return 1
    print(_exports(emulator))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tooling.emulators.bigquery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help="where bigquery.json and bigquery.log go")
    commands = parser.add_subparsers(dest="command", required=True)
    start_cmd = commands.add_parser("start", help="start in the background (nothing if already running)")
    start_cmd.add_argument("--port", type=int, default=None, help="REST port (default: a free port)")
    start_cmd.add_argument("--project", default=DEFAULT_PROJECT)
    start_cmd.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where the tables are kept")
    commands.add_parser("stop", help="stop the emulator started with `start`")
    commands.add_parser("env", help=f"print `export {ENDPOINT_ENV}=...` for the running emulator")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), {"start": _cmd_start, "stop": _cmd_stop, "env": _cmd_env}, argv)


if __name__ == "__main__":
    raise SystemExit(main())

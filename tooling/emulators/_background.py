"""Running an emulator as a background process group on 127.0.0.1, shared by the emulator modules.

Each emulator runs in its own session (process group), so stopping it also stops the
children it spawns (gcloud starts a shell that starts a JVM). The command-line entries
record what they started in a small JSON file under .local/emulators/, so a later
`stop` (or `make demo-gcp`) finds it again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = REPO_ROOT / ".local" / "emulators"
_POLL_S = 0.05


class EmulatorError(RuntimeError):
    pass


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def spawn(argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """Start `argv` in a new session, stdout and stderr appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else {**os.environ, **env},
            start_new_session=True,
        )


def http_status(url: str, method: str = "GET", timeout: float = 2.0) -> int | None:
    """The HTTP status of `url`, or None when nothing answers."""
    request = urllib.request.Request(url, method=method)  # noqa: S310 (http on loopback)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http on loopback)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_until_ready(
    process: subprocess.Popen, is_ready: Callable[[], bool], what: str, log_path: Path, timeout: float
) -> None:
    """Poll `is_ready` until it holds; stop the process and say why if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(f"{what} exited with code {process.returncode} before it was ready:\n{tail(log_path)}")
        if is_ready():
            return
        time.sleep(_POLL_S)
    stop_group(process.pid, process)
    raise EmulatorError(f"{what} was not ready after {timeout:.0f} s:\n{tail(log_path)}")


def tail(log_path: Path, lines: int = 20) -> str:
    if not log_path.exists():
        return f"(no log at {log_path})"
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def stop_group(pid: int, process: subprocess.Popen | None = None, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL what is still there after `timeout`."""
    if not _signal_group(pid, signal.SIGTERM):
        _reap(process)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(process, block=False)
        if not _signal_group(pid, 0):
            return
        time.sleep(_POLL_S)
    _signal_group(pid, signal.SIGKILL)
    _reap(process)


def _signal_group(pid: int, signum: int) -> bool:
    """Send `signum` to the group; False when the group no longer exists."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        return False
    return True


def _reap(process: subprocess.Popen | None, block: bool = True) -> None:
    # A child of ours stays a zombie (and its group "alive") until it is waited for.
    if process is None:
        return
    if block:
        process.wait()
    else:
        process.poll()


def process_runs(pid: int, command_part: str) -> bool:
    """Whether `pid` is alive and its command line contains `command_part` (guards against pid reuse)."""
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return command_part in command_line


def state_path(name: str, state_dir: Path = STATE_DIR) -> Path:
    return state_dir / f"{name}.json"


def write_state(name: str, state: Mapping[str, object], state_dir: Path = STATE_DIR) -> Path:
    path = state_path(name, state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(state), indent=2) + "\n")
    return path


def read_state(name: str, state_dir: Path = STATE_DIR) -> dict | None:
    path = state_path(name, state_dir)
    if not path.exists():
        return None
    return json.loads(path.read_text())


def forget_state(name: str, state_dir: Path = STATE_DIR) -> None:
    state_path(name, state_dir).unlink(missing_ok=True)


def run_command(parser, handlers: Mapping[str, object], argv: Sequence[str] | None = None) -> int:
    """The emulators' command lines: parse, run the chosen sub-command; an EmulatorError is one line, exit 1."""
    args = parser.parse_args(argv)
    try:
        return handlers[args.command](args)
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

"""scripts/check_prereqs.sh: what `make test` and `make demo-gcp` check before anything else.

On a machine that lacks them (a PATH with none of the tools, an old Java), every missing
prerequisite is named with the command that installs it, in one run; on this machine
(which runs the suite) nothing is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "check_prereqs.sh"


def _run(target: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [shutil.which("bash"), str(SCRIPT), target, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_every_missing_prerequisite_is_named_with_its_install_command(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed", "head", "id"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    # A Java too old for the Firestore emulator (its version goes to stderr, like java's).
    java = bin_dir / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "CHROMIUM": str(tmp_path / "no-chromium")}
    done = _run("demo-gcp", env, str(tmp_path / "no-python3.11"))
    assert done.returncode == 4, done.stdout + done.stderr
    report = done.stderr
    for needed, install in [
        ("Python 3.11", "sudo apt-get install -y python3.11 python3.11-venv"),
        ("Python 3.13, for the BigQuery emulator", "pyenv install 3.13"),
        ("Java 11 or later", "sudo apt-get install -y openjdk-17-jre-headless"),
        ("the Google Cloud CLI (gcloud)", "google-cloud-cli-firestore-emulator"),
    ]:
        assert needed in report and install in report, (needed, report)
    # make demo needs Python 3.11 only.
    assert _run("demo", env, str(tmp_path / "no-python3.11")).returncode == 1


def test_this_machine_has_what_the_suite_needs():
    make = subprocess.run(
        ["make", "--no-print-directory", "-s", "check-prereqs-test"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=os.environ,
        timeout=120,
        check=False,
    )
    assert make.returncode == 0, make.stdout + make.stderr

"""requirements.txt installs on Composer: it resolves together with the pinned set of each
Composer 3 image the deploy supports, Airflow 2.11 and Airflow 3:

- composer-3-airflow-2.11.1: apache-airflow 2.11.1, apache-airflow-providers-google 22.2.2
  (the image's package list);
- composer-3-airflow-3.3.1-build.10 (Composer 3's Airflow 3 build of 2026-11-20):
  apache-airflow 3.3.1. That image's full package list could not be read offline, so its
  Google provider is pinned to the version of requirements/airflow3.lock.txt (the one the
  Airflow 3 suite runs), and pip resolves the rest against apache-airflow 3.3.1's own
  requirements. Replace it with the image's pin when it is at hand
  (`gcloud composer environments describe ... --format="value(config.softwareConfig)"`
  or the "Preinstalled packages changelog" page).

pip's own resolver decides, as Composer's PyPI update does:

    pip install --dry-run --ignore-installed --report - -r requirements.txt \
        apache-airflow==2.11.1 apache-airflow-providers-google==22.2.2

with a Python 3.11 pip (.venv/boot, made by the Makefile with the pip it pins, or python3.11
on PATH): Composer 3 runs Python 3.11. It needs PyPI: the test is skipped, saying so, only when PyPI cannot be
reached. Both images resolve at the same time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO_ROOT / "requirements.txt"
COMPOSER_IMAGES = {
    "composer-3-airflow-2.11.1": {"apache-airflow": "2.11.1", "apache-airflow-providers-google": "22.2.2"},
    "composer-3-airflow-3.3.1-build.10": {"apache-airflow": "3.3.1", "apache-airflow-providers-google": "22.6.0"},
}
_UNREACHABLE = re.compile(
    r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|Could not fetch URL|"
    r"Network is unreachable|ConnectTimeout|ProxyError"
)

pytestmark = pytest.mark.timeout(1200)


def _pip_python() -> str:
    candidates = [str(REPO_ROOT / ".venv" / "boot" / "bin" / "python"), shutil.which("python3.11") or ""]
    for python in filter(None, candidates):
        if not Path(python).exists():
            continue
        probe = subprocess.run(
            [python, "-c", "import sys, pip; print(sys.version_info[:2] == (3, 11))"],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip() == "True":
            return python
    pytest.fail("no Python 3.11 with pip: run `make venvs` (creates .venv/boot) or install python3.11")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_requirements_do_not_pin_what_composer_pins():
    names = {
        _normalize(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0])
        for line in REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    }
    assert names
    assert not names & {"apache-airflow", "apache-airflow-providers-google", "apache-airflow-providers-cncf-kubernetes"}
    # Every line is an exact pin: Composer installs the versions the test suite ran.
    for line in REQUIREMENTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9._-]+==[0-9][0-9A-Za-z.+-]*", line.strip()), line


def _pip_dry_run(python: str, image: str, folder: Path) -> subprocess.Popen:
    """pip's resolution of requirements.txt with `image`'s pins, started (its report in folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    pins = [f"{name}=={version}" for name, version in COMPOSER_IMAGES[image].items()]
    command = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--disable-pip-version-check"]
    command += ["--quiet", "--report", str(folder / "report.json"), "-r", str(REQUIREMENTS), *pins]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=folder)


@pytest.fixture(scope="module")
def resolutions(tmp_path_factory) -> dict[str, tuple[int, str, Path]]:
    """image -> (pip's exit code, its output, its report): both images resolved at the same
    time, as most of each resolution is waiting for PyPI."""
    if os.environ.get("REPLICA_LEDGER_SKIP_NETWORK_TESTS") == "1":
        pytest.skip("REPLICA_LEDGER_SKIP_NETWORK_TESTS=1")
    python, root = _pip_python(), tmp_path_factory.mktemp("composer_requirements")
    started = {image: _pip_dry_run(python, image, root / image) for image in COMPOSER_IMAGES}
    done = {}
    for image, process in started.items():
        output, _ = process.communicate(timeout=1100)
        done[image] = (process.returncode, output, root / image / "report.json")
    return done


@pytest.mark.parametrize("image", sorted(COMPOSER_IMAGES))
def test_requirements_resolve_with_composer_pinned_set(resolutions, image: str):
    returncode, output, report = resolutions[image]
    if returncode != 0 and _UNREACHABLE.search(output):
        pytest.skip(f"PyPI is unreachable: {_UNREACHABLE.search(output).group(0)}")
    errors = "\n".join(line for line in output.splitlines() if not line.startswith("WARNING: Location"))
    assert returncode == 0, f"pip could not resolve requirements.txt with {image}'s pins:\n{errors[-5000:]}"

    resolved = {
        _normalize(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    for name, version in COMPOSER_IMAGES[image].items():
        assert resolved[name] == version, f"{name} moved to {resolved[name]}"
    for line in REQUIREMENTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.strip().split("==")
            assert resolved[_normalize(name)] == version

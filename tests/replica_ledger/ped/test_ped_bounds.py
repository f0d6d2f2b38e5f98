"""PED parsing is bounded: an alias bomb, a recursive alias, deep nesting and an oversized
file are refused fast, with a clear message, by `ped validate` and the library alike.

Each case runs in a child process with a time limit: before the bounds, the alias bomb ran
until it was killed, so an in-process test would hang the suite instead of failing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.replica_ledger.ped.conftest import FIXTURES

MINIMAL = (FIXTURES / "good" / "minimal.yaml").read_text()
# Seconds a refusal may take in the child, interpreter start included (generous for a busy machine).
LIMIT_SECONDS = 30


def laughs(levels: int, width: int = 9) -> str:
    """The "billion laughs": each level an anchored list of `width` aliases of the one before."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return MINIMAL + "\n".join(lines) + "\n"


CASES = {
    "billion_laughs": (laughs(9), "more than 10000 values once its aliases are expanded"),
    "alias_under_spec": (
        MINIMAL.replace(
            "maxReplicas: 3", "maxReplicas: 3\n  x: &x [" + ", ".join(["[1, 2, 3, 4, 5, 6, 7, 8]"] * 8) + "]"
        )
        + "y: &y ["
        + ", ".join(["*x"] * 200)
        + "]\n",
        "more than 10000 values",
    ),
    "recursive_alias": ("a: &a [1, *a]\n", "refers to a value that contains it"),
    "deep_flow": ("[" * 16000, "nested more than 64 deep"),
    "oversized": (MINIMAL + "reason: " + "x" * 20_000 + "\n", "above the 16384 bytes a PED document may have"),
    "ten_megabytes": (MINIMAL + "#" * 10_000_000 + "\n", "above the 16384 bytes a PED document may have"),
}


def run_validate(path: Path) -> subprocess.CompletedProcess:
    code = "import sys; from replica_ledger.ped.cli import main; sys.exit(main(sys.argv[1:], env={}))"
    return subprocess.run(
        [sys.executable, "-c", code, "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=LIMIT_SECONDS,
        env={"PYTHONPATH": ":".join(sys.path)},
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_refuses_fast_with_a_clear_message(tmp_path, name):
    text, message = CASES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    run = run_validate(path)
    assert run.returncode == 2, run.stderr
    assert f"{path}: document: " in run.stderr and message in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_a_few_honest_aliases_still_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(MINIMAL + "reason: &r onboarding\n")
    run = run_validate(path)
    assert run.returncode == 0, run.stderr


def test_a_device_that_never_ends_is_not_read_whole(tmp_path):
    run = run_validate(Path("/dev/zero"))
    assert run.returncode == 2 and "above the 16384 bytes" in run.stderr

"""The PED refuses '<', '>' and control characters in its free text (team, reason, changed_by):
`ped validate` and `ped record` say which field and why, and nothing is recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

QUOTE = (FIXTURES / "good" / "quote-api.yaml").read_text(encoding="utf-8")
HOSTILE = [
    "<!channel> ops",
    "<@U024BE7LH>",
    "ops>",
    "ops\n• *Fake breach* on prod",
    "ops\n",  # a final line break (Python's `$` would let it through)
    "ops\tteam",
    "ops\x1b[31m",
    "ops\x85",  # C1 control (NEL)
]


def _file(tmp_path: Path, *, team: str = "pricing", reason: str = "onboarding") -> Path:
    text = QUOTE.replace("team: pricing", f"team: {json.dumps(team)}").replace(
        "reason: onboarding", f"reason: {json.dumps(reason)}"
    )
    path = tmp_path / "quote-api.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("team", HOSTILE)
def test_validate_refuses_a_hostile_team(ped, tmp_path, team):
    result = ped("validate", _file(tmp_path, team=team))
    assert result.code == 2, result.out
    assert "metadata.team" in result.err
    assert "must not contain '<', '>' or control characters" in result.err
    assert "\x1b" not in result.err and "\n• *Fake" not in result.err


@pytest.mark.parametrize("reason", ["see <https://evil.example|here>", "line one\nline two", "bell\x07"])
def test_validate_refuses_a_hostile_reason(ped, tmp_path, reason):
    result = ped("validate", _file(tmp_path, reason=reason))
    assert result.code == 2
    assert "reason" in result.err and "must not contain" in result.err


def test_plain_text_with_ampersands_and_unicode_still_passes(ped, tmp_path):
    result = ped("validate", _file(tmp_path, team="R&D équipe ☕", reason="Black Friday: x2 (ops & sre)"))
    assert result.code == 0, result.err


@pytest.mark.parametrize("who", ["<!here>", "alice\nbob", "alice\x1b]0;x\x07"])
def test_record_refuses_a_hostile_changed_by_and_writes_nothing(ped, tmp_path, who):
    log = tmp_path / "changes.jsonl"
    result = ped("record", _file(tmp_path), "--log", log, "--changed-by", who, "--changed-at", "2026-09-14T13:02:00Z")
    assert result.code == 2
    assert "changed_by" in result.err and "must not contain" in result.err
    assert not log.exists() or log.read_text() == ""
    by_actor = ped("record", _file(tmp_path), "--log", log, env={"GITHUB_ACTOR": who})
    assert by_actor.code == 2 and (not log.exists() or log.read_text() == "")


def test_ped_validate_command_fails_on_a_channel_mention(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-m", "replica_ledger.ped", "validate", str(_file(tmp_path, team="<!channel> ops"))],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert 'metadata.team: "<!channel> ops" is not a valid team' in result.stderr

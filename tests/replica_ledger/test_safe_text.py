"""Text from outside, made safe for Slack and for a terminal (replica_ledger.safe_text), and
`make report` printing hostile warehouse values as safe, bounded cells."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest

from replica_ledger.safe_text import TERMINAL_MAX_CHARS, for_slack, for_terminal, one_line

ESCAPES = [
    "\x1b[31mred\x1b[0m",  # colour (CSI)
    "\x1b[2J\x1b[H",  # clear the screen, cursor home
    "\x1b]0;owned\x07",  # window title (OSC ... BEL)
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",  # hyperlink (OSC ... ST)
    "\x9b31m",  # 8-bit CSI
    "\x1bc",  # full reset
]


@pytest.mark.parametrize("sequence", ESCAPES)
def test_no_escape_sequence_or_control_character_survives(sequence):
    for out in (for_terminal("a" + sequence + "b"), for_slack("a" + sequence + "b")):
        assert all(ch.isprintable() or ch in "\u2060\u00ad" for ch in out), repr(out)
        assert "owned" not in out and "evil" not in out
        assert out.startswith("a")


def test_line_breaks_and_tabs_become_one_space_and_bidi_overrides_go():
    assert one_line("a\nb\r\nc\td\u2028e\u202eF\u200bG") == "a b c d eFG"
    assert one_line("👩\u200d💻") == "👩\u200d💻"  # an emoji sequence keeps its joiner
    assert one_line("\ud800x") == "\ufffdx"  # a lone surrogate cannot be encoded


def test_terminal_cells_are_capped_with_an_ellipsis():
    out = for_terminal("x" * 10_000)
    assert len(out) == TERMINAL_MAX_CHARS and out.endswith("…")
    assert for_terminal("short") == "short"


def test_slack_escapes_its_three_characters_after_capping():
    assert for_slack("<!channel> & co") == "&lt;!channel&gt; &amp; co"
    assert for_slack("<" * 500).count("&lt;") == 199  # 199 characters and an ellipsis, never half an entity
    assert for_slack(">quote").startswith("\u00ad&gt;")  # no quote block at the start of a line


def _warehouse(path, hostile: str) -> None:
    con = duckdb.connect(str(path))
    con.execute(
        "create table fct_breach_episodes as select 'c1' as cluster, ? as namespace, 'api' as deployment,"
        " ? as team, 'replicas_over_limit' as breach_type, date '2024-05-01' as started_on,"
        " date '2024-05-02' as last_seen_on, null::date as ended_on, 6 as max_observed_value,"
        " 4 as last_approved_max_replicas",
        [hostile, hostile],
    )
    con.execute(
        "create table fct_snapshot_gaps as select date '2024-05-01' as snapshot_date, ? as cluster, ? as gap_reason",
        [hostile, "x" * 10_000],
    )
    con.execute(
        "create table fct_limit_change_quarantine as select 1 as arrival_seq, ? as change_id,"
        " 'bad_team' as quarantine_reason, ? as quarantine_detail",
        [hostile, hostile],
    )
    # The rejects sections print the names and reasons the archive and the audit log carried.
    con.execute(
        "create table fct_snapshot_rejects as select date '2024-05-01' as snapshot_date, ? as cluster,"
        " 0 as item_index, 'Deployment' as kind, ? as reason, ? as item_json",
        [hostile, hostile, json.dumps({"metadata": {"namespace": hostile, "name": hostile}})],
    )
    con.execute(
        "create table stg_audit__rejects as select date '2024-05-01' as snapshot_date, ? as cluster,"
        " ? as source, 1 as line_number, ? as reason",
        [hostile, hostile, hostile],
    )
    con.close()


def test_make_report_prints_no_escape_sequence_and_no_endless_line(tmp_path):
    hostile = "ops\x1b[2J\x1b]0;owned\x07\nFAKE LINE\r" + "y" * 5_000
    _warehouse(tmp_path / "w.duckdb", hostile)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLICA_LEDGER_")}
    env.update(REPLICA_LEDGER_DUCKDB=str(tmp_path / "w.duckdb"), REPLICA_LEDGER_LOCAL_DIR=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-m", "replica_ledger.report"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "Breach episodes (1)" in out and "Snapshot gaps (1)" in out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out and "owned" not in out
    assert not any(line.startswith("FAKE LINE") for line in out.splitlines())
    assert max(len(line) for line in out.splitlines()) < 12 * (TERMINAL_MAX_CHARS + 2)
    assert "ops FAKE LINE yyy" in out and "…" in out

"""The PED change log reader: every line becomes a row; nothing is dropped."""

from __future__ import annotations

import pytest

from replica_ledger.changelog import read_change_log


def test_every_non_blank_line_is_a_row_in_arrival_order(tmp_path):
    log = tmp_path / "changes.jsonl"
    log.write_text(
        '{"change_id": "c1", "namespace": "shop", "deployment": "api", "max_replicas": 4, "cpu": 0.5}\n'
        "\n"
        '{"change_id": "c2", "namespace": "shop", "deployment": "api", "max_repl\n'
        "[1, 2]\n"
    )
    rows = list(read_change_log(log))
    assert [row["arrival_seq"] for row in rows] == [1, 3, 4]
    assert rows[0]["max_replicas"] == "4" and rows[0]["cpu"] == "0.5" and rows[0]["parse_error"] is None
    assert rows[1]["parse_error"].startswith("malformed JSON")
    assert rows[1]["raw_line"].startswith('{"change_id": "c2"')
    assert rows[2]["parse_error"] == "not a JSON object: list"


def test_a_missing_log_is_an_error_not_an_empty_log(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(read_change_log(tmp_path / "missing.jsonl"))

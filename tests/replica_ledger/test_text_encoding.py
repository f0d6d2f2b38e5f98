"""Text that is not UTF-8 is never stored with a replacement character: its line becomes a
quarantined row (change log) or a reject (audit log) naming the line and the byte offset."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from replica_ledger import changelog, pipeline
from replica_ledger.audit.log import read_audit_day
from replica_ledger.contract import DEFAULT_EXCLUDED_NAMESPACES
from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.ped.jsonl import JsonlChangeLog
from tests.replica_ledger.audit.test_audit_log import DAY, at, hpa_patch
from tests.replica_ledger.test_bad_inputs import CLUSTER, DAYS, GOOD_CHANGES, good_items, month_settings, query
from tooling.k8s_objects import kubectl_list

REPLACEMENT = "\ufffd"
# The team "café" written by a Latin-1 editor: é is the single byte 0xe9, not UTF-8.
LATIN1_ROW = json.dumps({**GOOD_CHANGES[0], "change_id": "latin", "team": "caf#"}).encode().replace(b"#", b"\xe9")


def test_a_latin1_change_row_is_a_parse_error_naming_the_line_and_the_offset(tmp_path):
    path = tmp_path / "ped.jsonl"
    good = json.dumps(GOOD_CHANGES[1]).encode()
    path.write_bytes(good + b"\n" + LATIN1_ROW + b"\n" + good + b"\n")
    rows = list(changelog.read_change_log(path))
    assert [row["parse_error"] is None for row in rows] == [True, False, True]
    offset = LATIN1_ROW.index(b"\xe9")
    assert rows[1]["parse_error"] == (
        f"not UTF-8: byte 0xe9 at byte {offset} of line 2 (byte {len(good) + 1 + offset} of the file)"
    )
    assert rows[1]["arrival_seq"] == 2 and rows[1]["change_id"] is None
    assert "caf\\xe9" in rows[1]["raw_line"] and REPLACEMENT not in rows[1]["raw_line"]


@pytest.mark.parametrize(
    ("data", "byte", "offset"),
    [
        (b"\xff\xfe{}", "0xff", 0),  # a UTF-16 byte order mark
        (b'{"a": "\xc3"}', "0xc3", 7),  # a cut multi-byte sequence
        (b'{"a": "\xed\xa0\x80"}', "0xed", 7),  # an encoded surrogate
    ],
)
def test_other_invalid_bytes_are_named(tmp_path, data, byte, offset):
    path = tmp_path / "ped.jsonl"
    path.write_bytes(data + b"\n")
    (row,) = changelog.read_change_log(path)
    assert row["parse_error"].startswith(f"not UTF-8: byte {byte} at byte {offset} of line 1")


def test_a_latin1_audit_line_is_a_reject_naming_the_line_and_the_offset(tmp_path):
    good = json.dumps(hpa_patch("a", at(DAY, 9), 7)).encode()
    bad = json.dumps(hpa_patch("b", at(DAY, 10), 8)).encode().replace(b"dev@example.com", b"d\xe9v@example.com")
    path = tmp_path / "audit.jsonl"
    path.write_bytes(good + b"\n" + bad + b"\n")
    day = read_audit_day(path, DAY, DEFAULT_EXCLUDED_NAMESPACES)
    assert [row["audit_id"] for row in day.events] == ["a"]
    (reject,) = day.rejects
    assert reject["line_number"] == 2
    offset = bad.index(b"\xe9")
    assert reject["reason"].startswith(f"not UTF-8: byte 0xe9 at byte {offset} of line 2")
    assert REPLACEMENT not in reject["entry_json"] and "d\\xe9v@" in reject["entry_json"]
    assert not any(REPLACEMENT in str(value) for row in day.events for value in row.values())


def test_a_latin1_line_of_a_gcloud_array_is_still_counted(tmp_path):
    elements = [hpa_patch("a", at(DAY, 9), 7), hpa_patch("b", at(DAY, 10), 8)]
    text = json.dumps(elements, indent=1).encode().replace(b'"b"', b'"\xe9"')
    folder = tmp_path / f"dt={DAY.isoformat()}"
    folder.mkdir()
    (folder / "gke-demo.jsonl").write_bytes(text)
    day = read_audit_day(tmp_path, DAY, DEFAULT_EXCLUDED_NAMESPACES)
    assert any(row["reason"].startswith("not UTF-8: byte 0xe9") for row in day.rejects)
    assert all(REPLACEMENT not in row["entry_json"] for row in day.rejects)


def test_the_ped_writer_does_not_read_a_latin1_row_as_a_recorded_one(tmp_path):
    path = tmp_path / "ped.jsonl"
    path.write_bytes(LATIN1_ROW + b"\n")
    log = JsonlChangeLog(path)
    assert log.read_rows() == []  # the warehouse quarantines it: no recorded version either


def test_an_overlong_line_is_not_read_whole(tmp_path):
    path = tmp_path / "ped.jsonl"
    path.write_bytes(
        b'{"reason": "' + b"x" * (changelog.MAX_LINE_BYTES * 3) + b'"}\n' + json.dumps(GOOD_CHANGES[0]).encode()
    )
    rows = list(changelog.read_change_log(path))
    assert rows[0]["parse_error"].startswith(f"line 1 is longer than {changelog.MAX_LINE_BYTES} bytes")
    assert len(rows[0]["raw_line"]) <= 2000 and rows[1]["change_id"] == "g1" and rows[1]["arrival_seq"] == 2


def test_line_numbers_stay_true_after_a_bom_and_blank_lines(tmp_path):
    path = tmp_path / "x"
    from replica_ledger.textlines import read_lines

    path.write_bytes(b"\xef\xbb\xbf\n\n\xe9\n")
    with path.open("rb") as stream:
        lines = list(read_lines(stream, 100))
    assert [(line.number, line.error) for line in lines][-1] == (
        3,
        "not UTF-8: byte 0xe9 at byte 0 of line 3 (byte 5 of the file)",
    )


def test_a_latin1_change_row_is_quarantined_in_the_warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    settings = replace(month_settings(tmp_path), clusters=(CLUSTER,))
    folder = settings.archive_dir / f"dt={DAYS[0].isoformat()}"
    folder.mkdir(parents=True)
    (folder / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(good_items())))
    lines = [json.dumps(row).encode() for row in GOOD_CHANGES]
    settings.ped_changes.write_bytes(b"\n".join([*lines, LATIN1_ROW]) + b"\n")
    pipeline.load_day(settings, DAYS[0])
    run_dbt(settings, ["build", "--select", "+fct_limit_change_quarantine", "--vars", build_vars(settings)])
    (row,) = query(settings, "select * from fct_limit_change_quarantine")
    assert row["arrival_seq"] == 4 and row["quarantine_reason"] == "malformed_json"
    assert row["quarantine_detail"].startswith("not UTF-8: byte 0xe9 at byte")
    assert "of line 4" in row["quarantine_detail"]
    held = query(settings, "select raw_line from raw.ped_limit_changes")
    assert all(REPLACEMENT not in line["raw_line"] for line in held)


@pytest.mark.parametrize(("bom", "chunk"), [(b"", 1024 * 1024), (b"\xef\xbb\xbf", 1024 * 1024), (b"", 7)])
def test_a_latin1_snapshot_is_unreadable_naming_the_byte_offset_in_the_file(monkeypatch, bom, chunk):
    import io

    from replica_ledger import archive

    monkeypatch.setattr(archive, "CHUNK_BYTES", chunk)
    data = bom + json.dumps(kubectl_list(good_items())).encode().replace(b'"web.v2"', b'"w\xe9b.v2"', 1)
    with pytest.raises(archive.SnapshotUnreadable) as unreadable:
        list(archive.SnapshotItems(io.BytesIO(data), "gke-eu.json"))
    offset = data.index(b"\xe9")
    assert str(unreadable.value) == f"gke-eu.json: malformed JSON (not UTF-8: byte 0xe9 at byte {offset} of the file)"

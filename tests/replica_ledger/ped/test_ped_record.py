"""Recording good PED files in a JSON Lines change log: accept, no-op, conflict, delete, times, ids."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from replica_ledger.changelog import FIELDS, current_versions
from replica_ledger.ped.document import load_document
from replica_ledger.ped.jsonl import JsonlChangeLog
from replica_ledger.ped.record import build_change

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good"
QUOTE = GOOD / "quote-api.yaml"
EXAMPLE_ROW = (
    '{"change_id": "ped-7f3a9c1", "namespace": "pricing", "deployment": "quote-api", "team": "pricing", '
    '"min_replicas": 2, "max_replicas": 4, "cpu": 2, "memory_gb": 4, "changed_at": "2026-09-14T13:02:00Z", '
    '"changed_by": "alice@example.com", "action": "upsert", "reason": "onboarding"}'
)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_record_writes_one_contract_row(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    result = ped(
        "record", QUOTE, "--log", log, "--change-id", "ped-7f3a9c1",
        "--changed-at", "2026-09-14T13:02:00Z", "--changed-by", "alice@example.com",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.out_lines == [
        f"{QUOTE}: accepted: change ped-7f3a9c1 (pricing/quote-api) appended to {log}",
        "summary: accepted=1 no-op=0 rejected=0",
    ]
    # Byte for byte the first row of the contract's example change log.
    assert log.read_text() == EXAMPLE_ROW + "\n"
    (row,) = rows(log)
    assert list(row) == list(FIELDS)
    assert row == {
        "change_id": "ped-7f3a9c1",
        "namespace": "pricing",
        "deployment": "quote-api",
        "team": "pricing",
        "min_replicas": 2,
        "max_replicas": 4,
        "cpu": 2,
        "memory_gb": 4,
        "changed_at": "2026-09-14T13:02:00Z",
        "changed_by": "alice@example.com",
        "action": "upsert",
        "reason": "onboarding",
    }


def test_identical_resend_is_a_noop(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    args = ("record", QUOTE, "--log", log, "--changed-at", "2026-09-14T15:02:00+02:00")
    first, second = ped(*args), ped(*args)
    assert (first.code, second.code) == (0, 0)
    (row,) = rows(log)
    assert row["changed_at"] == "2026-09-14T13:02:00Z"
    assert row["change_id"].startswith("ped-") and len(row["change_id"]) == 20
    assert second.out_lines == [
        f"{QUOTE}: no-op: change {row['change_id']} is already recorded in {log} (line 1)",
        "summary: accepted=0 no-op=1 rejected=0",
    ]


def test_noop_compares_normal_form(ped, tmp_path):
    """A row written by someone else with 2.0 / +00:00 / no team is the same content."""
    log = tmp_path / "changes.jsonl"
    log.write_text(
        json.dumps(
            {
                "change_id": "ped-1",
                "namespace": "pricing",
                "deployment": "quote-api",
                "min_replicas": 2,
                "max_replicas": 4,
                "cpu": 2.0,
                "memory_gb": 4,
                "changed_at": "2026-09-14T13:02:00+00:00",
                "changed_by": "alice",
                "action": "upsert",
                "reason": "onboarding",
            }
        )
        + "\n"
    )
    args = ("--change-id", "ped-1", "--changed-at", "2026-09-14T13:02:00Z", "--changed-by", "alice")
    result = ped("record", QUOTE, "--log", log, *args)
    assert result.code == 0
    assert result.out_lines[-1] == "summary: accepted=0 no-op=1 rejected=0"
    assert len(rows(log)) == 1


def test_conflicting_resend_is_refused_and_first_stands(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    base = ("--log", log, "--change-id", "ped-91bd2e4", "--changed-at", "2026-10-11T08:40:00Z")
    assert ped("record", QUOTE, *base).code == 0
    before = log.read_bytes()
    raised = tmp_path / "raised.yaml"
    raised.write_text(QUOTE.read_text().replace("maxReplicas: 4", "maxReplicas: 6"))
    result = ped("record", raised, *base)
    assert result.code == 3
    assert result.err_lines == [
        f"{raised}: conflict: change ped-91bd2e4 is already recorded in {log} (line 1) with different "
        "content (max_replicas: recorded 4, this change 6); the change log is append-only and the "
        "first row stands"
    ]
    assert result.out_lines == ["summary: accepted=0 no-op=0 rejected=1"]
    assert log.read_bytes() == before


def test_github_sha_is_the_default_change_id_and_retries_are_noops(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    env = {"GITHUB_SHA": "7F3A9C1E" * 5, "GITHUB_ACTOR": "alice"}
    first = ped("record", QUOTE, "--log", log, env=env, now=datetime(2026, 9, 14, 13, 2, 0, 123, tzinfo=UTC))
    # The retry comes later: its default changed_at differs, and the first recording stands.
    retry = ped("record", QUOTE, "--log", log, env=env, now=datetime(2026, 9, 14, 13, 9, 0, tzinfo=UTC))
    assert (first.code, retry.code) == (0, 0)
    assert retry.out_lines[-1] == "summary: accepted=0 no-op=1 rejected=0"
    (row,) = rows(log)
    assert row["change_id"] == "7f3a9c1e" * 5 + ":pricing/quote-api"
    assert (row["changed_at"], row["changed_by"]) == ("2026-09-14T13:02:00Z", "alice")
    # An explicit, different changed_at under the same commit is a conflict, not a retry.
    moved = ped("record", QUOTE, "--log", log, "--changed-at", "2026-09-15T00:00:00Z", env=env)
    assert moved.code == 3
    assert 'changed_at: recorded "2026-09-14T13:02:00Z", this change "2026-09-15T00:00:00Z"' in moved.err


def test_one_commit_with_several_files_gets_one_id_per_api(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    result = ped("record", QUOTE, GOOD / "minimal.yaml", "--log", log, env={"GITHUB_SHA": "a" * 40})
    assert result.code == 0
    assert [row["change_id"] for row in rows(log)] == [
        f"{'a' * 40}:pricing/quote-api",
        f"{'a' * 40}:search/suggest.v2",
    ]
    assert result.out_lines[-1] == "summary: accepted=2 no-op=0 rejected=0"


def test_changed_at_defaults_to_now_utc_and_can_be_given(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    ped("record", QUOTE, "--log", log, now=datetime(2026, 11, 1, 12, 0, 0, 999, tzinfo=UTC))
    ped("record", GOOD / "minimal.yaml", "--log", log, "--changed-at", "2026-10-31T23:30:00.250-01:00")
    assert [row["changed_at"] for row in rows(log)] == ["2026-11-01T12:00:00Z", "2026-11-01T00:30:00.250000Z"]
    real_now = ped("record", QUOTE, "--log", tmp_path / "now.jsonl", "--changed-at", "2026-01-01T00:00:00Z", now=None)
    assert real_now.code == 0


def test_bad_changed_at_and_change_id_are_refused(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    result = ped("record", QUOTE, "--log", log, "--changed-at", "2026-10-11 08:40")
    assert (result.code, result.err_lines) == (
        2,
        ["error: '2026-10-11 08:40' is not an RFC3339 timestamp with a UTC offset (e.g. 2026-10-11T08:40:00Z)"],
    )
    result = ped("record", QUOTE, "--log", log, "--change-id", "two words")
    assert (result.code, result.err_lines) == (
        2,
        ["error: change id 'two words' must not contain spaces, '<', '>' or control characters"],
    )
    result = ped("record", QUOTE, GOOD / "minimal.yaml", "--log", log, "--change-id", "x")
    assert (result.code, result.err_lines) == (2, ["error: --change-id names one change; got 2 files"])
    assert not log.exists()


def test_mixed_batch_counts_and_exit_code(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    ped("record", QUOTE, "--log", log, "--changed-at", "2026-09-14T13:02:00Z")
    result = ped(
        "record", QUOTE, GOOD / "minimal.yaml", FIXTURES / "bad" / "max_12.yaml",
        "--log", log, "--changed-at", "2026-09-14T13:02:00Z",
    )  # fmt: skip
    assert result.code == 2
    assert result.out_lines[-1] == "summary: accepted=1 no-op=1 rejected=1"
    assert len(rows(log)) == 2


def test_delete_from_a_file_and_from_flags(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    ped("record", QUOTE, "--log", log, "--changed-at", "2026-09-14T13:02:00Z")
    by_action = ped("record", GOOD / "delete.yaml", "--log", log, "--changed-at", "2026-12-01T00:00:00Z")
    by_command = ped("delete", QUOTE, "--log", log, "--changed-at", "2026-12-02T00:00:00Z", "--changed-by", "ops")
    by_flags = ped(
        "delete", "--namespace", "search", "--deployment", "suggest.v2", "--team", "search-team",
        "--reason", "sunset", "--log", log, "--changed-at", "2026-12-03T00:00:00Z",
    )  # fmt: skip
    assert (by_action.code, by_command.code, by_flags.code) == (0, 0, 0), by_flags.err
    deletes = rows(log)[1:]
    for row in deletes:
        assert row["action"] == "delete"
        assert [row[name] for name in ("min_replicas", "max_replicas", "cpu", "memory_gb")] == [None] * 4
    assert [(r["namespace"], r["deployment"], r["team"], r["reason"]) for r in deletes] == [
        ("pricing", "quote-api", "pricing", "replaced by quote-api-v2"),
        ("pricing", "quote-api", "pricing", None),  # the upsert file's reason is not a delete's reason
        ("search", "suggest.v2", "search-team", "sunset"),
    ]
    assert current_versions(rows(log))[("pricing", "quote-api")]["changed_at"] == "2026-12-02T00:00:00Z"


def test_delete_arguments_are_checked(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    result = ped("delete", "--namespace", "Bad_NS", "--deployment", "x", "--log", log)
    assert result.code == 2
    assert result.err_lines[0].startswith('Bad_NS/x: --namespace: "Bad_NS" is not a valid namespace')
    result = ped("delete", QUOTE, "--namespace", "pricing", "--log", log)
    assert (result.code, result.err_lines) == (
        2,
        ["error: give either FILE or both --namespace and --deployment"],
    )
    result = ped("delete", "--namespace", "pricing", "--log", log)
    assert result.code == 2
    assert not log.exists()


def test_torn_last_line_stays_its_own_line(ped, tmp_path):
    log = tmp_path / "changes.jsonl"
    log.write_text('{"change_id": "half-writ')
    assert ped("record", QUOTE, "--log", log).code == 0
    lines = log.read_text().splitlines()
    assert lines[0] == '{"change_id": "half-writ'
    assert json.loads(lines[1])["deployment"] == "quote-api"


def test_concurrent_appends_lose_nothing_and_keep_one_row_per_id(tmp_path):
    log = JsonlChangeLog(tmp_path / "changes.jsonl")
    document = load_document(QUOTE)
    changes = [
        build_change(document, change_id=f"c{i % 10}", changed_at="2026-09-14T13:02:00Z", env={}) for i in range(40)
    ]
    outcomes = []

    def work(batch):
        outcomes.extend(log.append(change).status for change in batch)

    threads = [threading.Thread(target=work, args=(changes[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(row["change_id"] for row in rows(log.path)) == [f"c{i}" for i in range(10)]
    assert outcomes.count("accepted") == 10 and outcomes.count("noop") == 30


def test_unwritable_log_exits_1(ped, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = ped("record", QUOTE, "--log", blocker / "changes.jsonl")
    assert result.code == 1
    assert result.err_lines[0].startswith("error: ")
    assert result.out_lines == ["summary: accepted=0 no-op=0 rejected=0"]


def test_unknown_log_scheme(ped):
    result = ped("record", QUOTE, "--log", "gs://bucket/changes.jsonl")
    assert result.code == 2
    assert result.err_lines == [
        "error: --log 'gs://bucket/changes.jsonl': unsupported scheme; use a file path or bq://project.dataset.table"
    ]

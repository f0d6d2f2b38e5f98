"""`make backfill` on this interpreter's Airflow (`airflow dags backfill` on 2.11, `airflow
backfill create` with a scheduler, dag-processor and api-server on 3.x), told as the story an
operator replays: backfills heal too (contract §5).

One range is backfilled (10-11) while one cluster's file of 10-11 and PED's raise of
payments-api (changed_at 10-11) have not arrived yet; 10-12 is never run. Then the file and
the PED row arrive, and the next range (10-13..10-14) is backfilled. Its first run rebuilds
[max(D - L, E), D] = 10-10..10-13 (E: the day before the PED change's day), loads the late
file and the never-run day, and says why; its second day has nothing new, [D, D]. A third
call runs 10-14 again, the way an operator replays a day: every table stays as it was.

After it, every table equals a fresh full build of the same days (each day loaded once, then
`make rebuild`'s path), and `make rebuild` on the backfilled warehouse changes nothing.
Throughout, a backfill reads only the archive, never posts to Slack (however wide the alert
window), leaves no DAG unpaused and no other run, and closes each of its backfill records.
Kept to four backfilled day-runs: it runs on both Airflow versions.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.airflow_cli import AIRFLOW_MAJOR, local_env, query, run_script, table_fingerprints

REPO = Path(__file__).resolve().parents[2]
DAYS = ["2026-10-11", "2026-10-12", "2026-10-13", "2026-10-14"]
FIRST_RANGE, UNRUN, NEXT_RANGE = DAYS[:1], DAYS[1], DAYS[2:]
AGAIN = DAYS[-1:]  # the third call: the last day once more
LATE_FILE = Path("dt=2026-10-11") / "gke-demo-us.json.gz"
LATE_CHANGE = "ped-0002"  # payments-api raised to max 6, changed_at 10-11 09:30
# The load record of each run: different by design between the runs and a fresh build.
RUN_RECORDS = {"raw.day_loads"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_inputs(local: Path) -> tuple[Path, Path, str]:
    """The demo archive of DAYS and the demo change log, both without their late parts."""
    archive = local / "archive"
    for day in DAYS:
        shutil.copytree(REPO / "demo" / "archive" / f"dt={day}", archive / f"dt={day}")
    late = (archive / LATE_FILE).read_bytes()
    (archive / LATE_FILE).unlink()
    lines = (REPO / "demo" / "ped_limit_changes.jsonl").read_text().splitlines(keepends=True)
    (late_row,) = [line for line in lines if f'"change_id": "{LATE_CHANGE}"' in line]
    changes = local / "ped_limit_changes.jsonl"
    changes.write_text("".join(line for line in lines if line is not late_row))
    (local / "late.json.gz").write_bytes(late)
    return archive, changes, late_row


def backfill(env: dict, days: list[str], log: Path) -> None:
    command = f"make --no-print-directory backfill FROM={days[0]} TO={days[-1]} AIRFLOW={AIRFLOW_MAJOR}"
    run_script(command, env, timeout=1800, log=log)


# Three backfilled days, a fresh build and a rebuild: within 900 s alone, not on a machine
# shared with other Airflow suites (Airflow 2 task processes).
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> SimpleNamespace:
    local = tmp_path_factory.mktemp("heals")
    archive, changes, late_row = copy_inputs(local)
    inputs = {
        "REPLICA_LEDGER_ARCHIVE_DIR": str(archive),
        "REPLICA_LEDGER_PED_CHANGES": str(changes),
        # Both clusters expected from the first day: the late one is a gap until its file lands.
        "REPLICA_LEDGER_CLUSTERS": "gke-demo-eu,gke-demo-us",
        # However wide the alert window, a backfill never posts: widen it to prove that.
        "REPLICA_LEDGER_ALERT_MAX_AGE_DAYS": "36500",
    }
    env = local_env(
        local,
        **inputs,
        AIRFLOW_API_PORT=str(free_port()),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
    )
    warehouse = local / "warehouse.duckdb"
    backfill(env, FIRST_RANGE, local / "backfill-1.log")
    gaps_before = query(warehouse, "select snapshot_date, cluster from fct_snapshot_gaps order by all")
    breaches_before = query(
        warehouse, "select snapshot_date from fct_replica_breaches where deployment = 'payments-api'"
    )

    (archive / LATE_FILE).write_bytes((local / "late.json.gz").read_bytes())  # the late file
    with changes.open("a") as log:
        log.write(late_row)  # the late PED row
    backfill(env, NEXT_RANGE, local / "backfill-2.log")
    runs = table_fingerprints(warehouse)
    between_calls = datetime.now(UTC)
    backfill(env, AGAIN, local / "backfill-3.log")
    again = table_fingerprints(warehouse)

    # A fresh full build of the same inputs: each day loaded once into a new warehouse, then
    # every model built whole by pipeline.rebuild, what `make rebuild` runs (one process).
    fresh = local / "fresh"
    fresh.mkdir()
    build = (
        "python -c 'import sys; from datetime import date; from replica_ledger import pipeline; "
        "from replica_ledger.settings import load_settings; s = load_settings(); "
        "[pipeline.load_day(s, date.fromisoformat(d), lookback_days=0) for d in sys.argv[1:]]; "
        "pipeline.rebuild(s)' " + " ".join(DAYS)
    )
    run_script(build, local_env(fresh, **inputs), timeout=900, log=local / "fresh.log")
    rebuilt = table_fingerprints(fresh / "warehouse.duckdb")

    run_script("make --no-print-directory rebuild", env, timeout=900, log=local / "rebuild.log")
    after_rebuild = table_fingerprints(warehouse)
    return SimpleNamespace(
        local=local,
        warehouse=warehouse,
        gaps_before=gaps_before,
        breaches_before=breaches_before,
        runs=runs,
        again=again,
        between_calls=between_calls,
        fresh=rebuilt,
        after_rebuild=after_rebuild,
    )


def window_of(story, day: str) -> dict:
    (row,) = query(story.warehouse, "select run_window from raw.day_loads where snapshot_date = ?", [day])
    return json.loads(row["run_window"])


def test_the_first_range_saw_the_gap_and_the_unapproved_raise(story):
    assert {"snapshot_date": _day("2026-10-11"), "cluster": "gke-demo-us"} in story.gaps_before
    assert _day("2026-10-11") in {row["snapshot_date"] for row in story.breaches_before}


def test_the_next_range_first_day_rebuilds_from_the_earliest_changed_day_and_says_why(story):
    window = window_of(story, NEXT_RANGE[0])
    assert (window["start"], window["end"]) == ("2026-10-10", NEXT_RANGE[0])
    assert window["reloaded"] == {
        "2026-10-11": [f"file {LATE_FILE.as_posix()} new"],
        UNRUN: [f"never loaded, files now: dt={UNRUN}/gke-demo-eu.json, dt={UNRUN}/gke-demo-eu.meta.json, "
                f"dt={UNRUN}/gke-demo-us.json.gz"],
    }  # fmt: skip
    (ped,) = window["changed"]["2026-10-10"]
    assert ped.startswith(f"PED change {LATE_CHANGE} (arrival ") and ped.endswith("changed_at 2026-10-11")


def test_a_day_with_nothing_new_rebuilds_itself_only(story):
    window = window_of(story, NEXT_RANGE[1])
    assert (window["start"], window["reloaded"], window["changed"]) == (NEXT_RANGE[1], {}, {})


def test_the_task_log_says_what_the_run_rebuilt_and_why(story):
    logs = story.local / f"airflow{AIRFLOW_MAJOR}" / "logs"
    text = "\n".join(path.read_text(errors="replace") for path in logs.rglob("*.log") if "load_day" in str(path))
    assert f"window {NEXT_RANGE[0]}: rebuilds 2026-10-10..{NEXT_RANGE[0]}" in text
    assert f"window {NEXT_RANGE[0]}: 2026-10-11 reloaded and rebuilt: file {LATE_FILE.as_posix()} new" in text
    assert f"window {NEXT_RANGE[1]}: rebuilds {NEXT_RANGE[1]}..{NEXT_RANGE[1]}: no input" in text


def test_the_gap_of_the_late_file_is_gone_and_the_late_ped_row_re_judged_the_breaches(story):
    gaps = query(story.warehouse, "select snapshot_date, cluster from fct_snapshot_gaps")
    assert {"snapshot_date": _day("2026-10-11"), "cluster": "gke-demo-us"} not in gaps
    assert not [row for row in gaps if row["snapshot_date"].isoformat() == UNRUN]
    approved = query(
        story.warehouse,
        "select distinct snapshot_date, approved_max_replicas from fct_deployment_daily "
        "where deployment = 'payments-api' order by 1",
    )
    assert {row["snapshot_date"].isoformat(): row["approved_max_replicas"] for row in approved} == dict.fromkeys(
        DAYS, 6
    )
    breaches = query(story.warehouse, "select * from fct_replica_breaches where deployment = 'payments-api'")
    assert breaches == []


def test_every_table_equals_a_fresh_full_build(story):
    print(f"\n{'table':<48} {'runs (make backfill x2)':<20} fresh full build")
    for table in sorted(set(story.runs) | set(story.fresh)):
        runs, fresh = story.runs.get(table, "-"), story.fresh.get(table, "-")
        print(f"{table:<48} {runs[:16]:<20} {fresh[:16]}{'  (load records)' if table in RUN_RECORDS else ''}")
    assert "main.alert_log" in story.runs  # exists from the first build, empty: backfills never post
    compared = set(story.runs) - RUN_RECORDS
    assert compared == set(story.fresh) - RUN_RECORDS
    assert {table: story.runs[table] for table in compared} == {table: story.fresh[table] for table in compared}


def test_make_rebuild_changes_nothing(story):
    assert story.after_rebuild == story.runs


def _day(text: str):
    from datetime import date

    return date.fromisoformat(text)


# ----------------------------------------------------------------------------- the backfill commands


def metadata_db(story) -> sqlite3.Connection:
    return sqlite3.connect(story.local / f"airflow{AIRFLOW_MAJOR}" / "airflow.db")


def utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_each_call_reports_its_own_days(story):
    for number, days in enumerate((FIRST_RANGE, NEXT_RANGE, AGAIN), start=1):
        log = (story.local / f"backfill-{number}.log").read_text()
        reported = [day for day in DAYS if f"[replica-ledger] backfill {day}: success" in log]
        assert reported == days, number


def test_backfill_again_over_a_day_leaves_every_table_unchanged(story):
    assert story.again == story.runs


def test_one_run_per_day_and_the_third_call_reran_only_its_day(story):
    date_column = "logical_date" if AIRFLOW_MAJOR >= 3 else "execution_date"
    with metadata_db(story) as con:
        runs = con.execute(f"select {date_column}, state, start_date from dag_run order by 1").fetchall()
    assert [(day[:10], state) for day, state, _ in runs] == [(day, "success") for day in (*FIRST_RANGE, *NEXT_RANGE)]
    assert [day[:10] for day, _, start in runs if utc(start) > story.between_calls] == AGAIN


@pytest.mark.skipif(AIRFLOW_MAJOR < 3, reason="Airflow 2's `dags backfill` keeps no backfill record")
def test_every_backfill_record_is_closed(story):
    """Airflow 3 refuses a new backfill of a DAG while one is open: each call closes its own."""
    with metadata_db(story) as con:
        records = con.execute("select from_date, to_date, completed_at from backfill order by id").fetchall()
    assert [(start[:10], end[:10]) for start, end, _ in records] == [
        (days[0], days[-1]) for days in (FIRST_RANGE, NEXT_RANGE, AGAIN)
    ]
    assert all(completed_at for _, _, completed_at in records)


def test_backfill_leaves_no_dag_unpaused_and_no_other_run(story):
    """Airflow 3 unpauses the DAG for its backfill (the scheduler starts no run of a paused DAG)
    and pauses it again, and no scheduled (live) run appears meanwhile; 2.11's in-process
    backfill leaves no DAG row at all."""
    with metadata_db(story) as con:
        assert con.execute("select dag_id from dag where not is_paused").fetchall() == []
        assert con.execute("select distinct run_type from dag_run").fetchall() == [("backfill",)]


def test_backfill_never_posts(story):
    outbox = story.local / "outbox"
    assert not outbox.exists() or list(outbox.iterdir()) == []
    assert query(story.warehouse, "select count(*) as n from main.alert_log") == [{"n": 0}]

"""Late data heals within the lookback window (contract §5), on DuckDB with the real dbt build.

One cluster, gke-eu, and one API, payments/checkout-api, approved at max 4 whose HPA says
max 6: an hpa_max_over_limit breach on every snapshot day until PED approves 6.

* a snapshot copied in late fills its gap on the next run, inside the window; a late file
  outside the window changes nothing, and neither do the days before the window;
* a late PED row whose changed_at is 3 days back re-judges those days;
* a cluster missing 33 days that shows the same breach again is the same episode, and a
  full rebuild (`make rebuild`) gives the same rows as the daily runs;
* a backfill run heals like any run: [max(D - L, E), D], E the earliest changed day;
* alert_log exists from the first build.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from replica_ledger import pipeline
from replica_ledger.airflow import tasks
from replica_ledger.settings import load_settings
from replica_ledger.warehouse import duckdb as warehouse
from tooling.k8s_objects import deployment_object, hpa_object, kubectl_list

D = date(2026, 10, 20)
CLUSTER = "gke-eu"
API = {"namespace": "payments", "deployment": "checkout-api"}
FACTS = ("fct_deployment_daily", "fct_replica_breaches")


def ped_row(change_id: str, max_replicas: int, changed_at: datetime) -> str:
    row = {
        "change_id": change_id,
        **API,
        "team": "payments",
        "min_replicas": 2,
        "max_replicas": max_replicas,
        "cpu": 2,
        "memory_gb": 4,
        "changed_at": changed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "action": "upsert",
    }
    return json.dumps(row) + "\n"


def write_snapshot(archive: Path, day: date) -> Path:
    items = [
        deployment_object("payments", "checkout-api", replicas=3, cpu=2, memory_gb=4, team="payments"),
        hpa_object("payments", "checkout-api", target="checkout-api", min_replicas=2, max_replicas=6, current=3),
    ]
    folder = archive / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{CLUSTER}.json"
    path.write_text(json.dumps(kubectl_list(items)))
    return path


@pytest.fixture
def ledger(tmp_path, worker_warehouse, monkeypatch):
    archive, changes = tmp_path / "archive", tmp_path / "ped.jsonl"
    changes.write_text(ped_row("ped-1", 4, datetime(2026, 8, 1, tzinfo=UTC)))
    for name, value in {
        "REPLICA_LEDGER_ARCHIVE_DIR": archive,
        "REPLICA_LEDGER_PED_CHANGES": changes,
        "REPLICA_LEDGER_LOCAL_DIR": tmp_path,
        "REPLICA_LEDGER_DUCKDB": worker_warehouse,
        "REPLICA_LEDGER_SLACK_OUTBOX": tmp_path / "outbox",
        "REPLICA_LEDGER_CLUSTERS": CLUSTER,
        "REPLICA_LEDGER_DBT_TARGET": "duckdb",
        "REPLICA_LEDGER_DBT_DAILY_TESTS": "false",  # the models are what is checked here
        "REPLICA_LEDGER_LOOKBACK_DAYS": "2",
    }.items():
        monkeypatch.setenv(name, str(value))
    return SimpleNamespace(archive=archive, changes=changes, duckdb=worker_warehouse)


def run(day: date, *, backfill: bool = False) -> tuple[dict, dict]:
    """The DAG's load and build tasks for `day`, as a manual run or a backfill run."""
    context = {
        "logical_date": datetime.combine(day, time(), tzinfo=UTC),
        "run_id": f"{'backfill' if backfill else 'manual'}__{day.isoformat()}T00:00:00+00:00",
        "dag_run": {"run_type": "backfill" if backfill else "manual"},
    }
    return tasks.load(context), tasks.build(context)


def query(duckdb: Path, sql: str, params: list | None = None) -> list[dict]:
    # Read-write like dbt's own connection in this process: DuckDB refuses a second
    # connection to the file with another configuration.
    with warehouse.connect(duckdb) as con:
        cursor = con.execute(sql, params or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def table_fingerprints(duckdb: Path) -> dict[str, str]:
    """sha256 of every table's rows in a stable order."""
    tables = query(
        duckdb, "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
    )
    return {
        f"{row['table_schema']}.{row['table_name']}": hashlib.sha256(
            repr(query(duckdb, f'select * from "{row["table_schema"]}"."{row["table_name"]}" order by all')).encode()
        ).hexdigest()
        for row in tables
    }


def rows_by_day(duckdb: Path, table: str, columns: str = "*") -> dict[date, list[tuple]]:
    rows = query(duckdb, f"select {columns} from {table} order by all")
    by_day: dict[date, list[tuple]] = {}
    for row in rows:
        by_day.setdefault(row["snapshot_date"], []).append(tuple(row.values()))
    return by_day


def breach_days(duckdb: Path) -> list[date]:
    return [row["snapshot_date"] for row in query(duckdb, "select snapshot_date from fct_replica_breaches order by 1")]


def gap_days(duckdb: Path) -> dict[date, str]:
    return {row["snapshot_date"]: row["gap_reason"] for row in query(duckdb, "select * from fct_snapshot_gaps")}


def test_a_late_snapshot_fills_its_gap_inside_the_window_and_nothing_outside(ledger):
    write_snapshot(ledger.archive, D - timedelta(days=3))
    write_snapshot(ledger.archive, D)
    run(D - timedelta(days=3))  # the first run: its own day only
    run(D - timedelta(days=2))  # D-2: no file yet, a gap
    run(D - timedelta(days=1))  # D-1: no file, a gap
    assert gap_days(ledger.duckdb) == {D - timedelta(days=2): "missing", D - timedelta(days=1): "missing"}
    before = {table: rows_by_day(ledger.duckdb, table) for table in (*FACTS, "raw.k8s_deployments")}

    write_snapshot(ledger.archive, D - timedelta(days=2))  # copied in late: inside D's window
    write_snapshot(ledger.archive, D - timedelta(days=4))  # copied in late: before D's window
    load, _ = run(D)

    assert load["reloaded_days"] == {(D - timedelta(days=2)).isoformat(): {CLUSTER: "loaded"}}
    assert gap_days(ledger.duckdb) == {D - timedelta(days=1): "missing"}  # D-2 filled; D-4 never loaded
    assert breach_days(ledger.duckdb) == [D - timedelta(days=back) for back in (3, 2, 0)]
    (filled,) = query(
        ledger.duckdb,
        "select is_new_episode, previous_snapshot_date from fct_replica_breaches where snapshot_date = ?",
        [D - timedelta(days=2)],
    )
    # The episode started on D-3; the late D-2 continues it.
    assert filled == {"is_new_episode": False, "previous_snapshot_date": D - timedelta(days=3)}
    for table, days in before.items():
        after = rows_by_day(ledger.duckdb, table)
        for day in (D - timedelta(days=4), D - timedelta(days=3)):
            assert after.get(day) == days.get(day), (table, day)  # outside the window: untouched


def test_a_late_ped_row_re_judges_the_days_it_covers(ledger, monkeypatch):
    monkeypatch.setenv("REPLICA_LEDGER_LOOKBACK_DAYS", "3")
    for back in range(6, -1, -1):
        write_snapshot(ledger.archive, D - timedelta(days=back))
    run(D - timedelta(days=6))  # the first run: its own day only
    run(D - timedelta(days=3))  # window D-6..D-3: loads D-5..D-3 (D-6 unchanged)
    run(D - timedelta(days=1))  # window D-4..D-1: loads D-2 and D-1
    assert breach_days(ledger.duckdb) == [D - timedelta(days=back) for back in range(6, 0, -1)]

    # PED approves max 6 from D-3 00:00, 3 days back; the row arrives with the run for D.
    with ledger.changes.open("a") as log:
        log.write(ped_row("ped-2", 6, datetime.combine(D - timedelta(days=3), time(), tzinfo=UTC)))
    load, build = run(D)

    assert load["reloaded_days"] == {}  # no file changed: only D is loaded
    assert build["rebuilt_from"] == (D - timedelta(days=3)).isoformat()
    # D-3..D are judged again, at max 6: the false hpa_max_over_limit is gone. D-4's
    # snapshot, captured at D-3 00:00, is under max 6 too, but D-4 is before the window:
    # days older than the window change only when re-run.
    assert breach_days(ledger.duckdb) == [D - timedelta(days=back) for back in (6, 5, 4)]
    approved = rows_by_day(ledger.duckdb, "fct_deployment_daily", "snapshot_date, approved_max_replicas")
    assert {day: rows[0][1] for day, rows in approved.items()} == {
        **{D - timedelta(days=back): 4 for back in (6, 5, 4)},
        **{D - timedelta(days=back): 6 for back in (3, 2, 1, 0)},
    }


def test_an_episode_bridges_a_33_day_gap_and_a_rebuild_equals_the_daily_runs(ledger):
    first, back_again = D - timedelta(days=34), D
    write_snapshot(ledger.archive, first)
    write_snapshot(ledger.archive, back_again)
    run(first)
    run(back_again)
    (breach,) = query(ledger.duckdb, "select * from fct_replica_breaches where snapshot_date = ?", [back_again])
    assert breach["is_new_episode"] is False and breach["previous_snapshot_date"] == first
    (episode,) = query(ledger.duckdb, "select started_on, last_seen_on, breach_days from fct_breach_episodes")
    assert episode == {"started_on": first, "last_seen_on": back_again, "breach_days": 2}

    tables = ("fct_replica_breaches", "fct_breach_episodes", "fct_deployment_daily", "fct_snapshot_gaps")
    daily = {table: query(ledger.duckdb, f"select * from {table} order by all") for table in tables}
    raw_before = {name: digest for name, digest in table_fingerprints(ledger.duckdb).items() if name.startswith("raw.")}
    summary = pipeline.rebuild(load_settings())

    assert summary["kept"][:2] == ["raw tables", "alert_log"]
    assert {table: query(ledger.duckdb, f"select * from {table} order by all") for table in tables} == daily
    raw_after = {name: digest for name, digest in table_fingerprints(ledger.duckdb).items() if name.startswith("raw.")}
    assert raw_after == raw_before


def test_a_backfill_run_heals_like_any_run(ledger):
    """One rule for every run: a backfill run for D rebuilds [max(D - L, E), D], E the earliest
    day whose inputs changed, and its load record says what and why."""
    for back in (2, 1, 0):
        write_snapshot(ledger.archive, D - timedelta(days=back))
    run(D - timedelta(days=2), backfill=True)
    run(D - timedelta(days=1), backfill=True)  # nothing changed: D-1 only
    loads = query(ledger.duckdb, "select * from raw.day_loads order by snapshot_date")
    assert [json.loads(row["run_window"])["start"] for row in loads] == [
        str(D - timedelta(days=2)),
        str(D - timedelta(days=1)),
    ]
    assert breach_days(ledger.duckdb) == [D - timedelta(days=2), D - timedelta(days=1)]

    # Late news, both kinds: D-2's file rewritten, a PED row raising the max from D-1, and
    # one from D-3, before the window [D - 2, D] (reported, not healed).
    path = write_snapshot(ledger.archive, D - timedelta(days=2))
    path.write_text(path.read_text() + "\n")
    with ledger.changes.open("a") as log:
        log.write(ped_row("ped-2", 6, datetime.combine(D - timedelta(days=1), time(), tzinfo=UTC)))
        log.write(ped_row("ped-0", 4, datetime.combine(D - timedelta(days=3), time(), tzinfo=UTC)))
    load, build = run(D, backfill=True)

    assert load["reloaded_days"] == {(D - timedelta(days=2)).isoformat(): {CLUSTER: "loaded"}}
    assert build["rebuilt_from"] == (D - timedelta(days=2)).isoformat()
    window = json.loads(
        query(ledger.duckdb, "select run_window from raw.day_loads where snapshot_date = ?", [D])[0]["run_window"]
    )
    assert window == load["run_window"]
    before_window = D - timedelta(days=2)
    assert window["changed"] == {
        str(D - timedelta(days=2)): [
            f"file dt={D - timedelta(days=2)}/{CLUSTER}.json changed",
            f"PED change ped-2 (arrival 2) changed_at {D - timedelta(days=1)}",
            f"PED change ped-0 (arrival 3) changed_at {D - timedelta(days=3)}",
        ],
    }
    assert window["not_healed"] == [
        f"PED change ped-0 (arrival 3) changed_at {D - timedelta(days=3)}: days before {before_window}"
    ]
    # Every day of the window judged again at max 6 (D-2's snapshot is captured at D-1 00:00).
    assert breach_days(ledger.duckdb) == []

    # Nothing changed since: the next backfill day rebuilds its own day only.
    write_snapshot(ledger.archive, D + timedelta(days=1))
    load, build = run(D + timedelta(days=1), backfill=True)
    assert (load["reloaded_days"], build["rebuilt_from"]) == ({}, (D + timedelta(days=1)).isoformat())
    assert load["run_window"]["changed"] == {}


def test_the_alert_log_exists_from_the_first_build_empty(ledger):
    write_snapshot(ledger.archive, D)
    run(D, backfill=True)
    assert query(ledger.duckdb, "select count(*) as n from main.alert_log") == [{"n": 0}]


def test_rerunning_a_day_leaves_every_table_as_it_was(ledger):
    for back in (1, 0):
        write_snapshot(ledger.archive, D - timedelta(days=back))
    run(D)
    first = table_fingerprints(ledger.duckdb)
    load, _ = run(D)
    assert load["reloaded_days"] == {}
    assert table_fingerprints(ledger.duckdb) == first

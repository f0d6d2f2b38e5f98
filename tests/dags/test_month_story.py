"""A month's end told through real Airflow runs (`dag.test()` of the DAG, on both versions):
a snapshot file copied in late, a missed month-end run, and a PED row that arrives after the
month was closed.

The story (contract §5), on a small archive of one cluster with two APIs:
1. runs for Oct 28..30; Oct 29 has no file yet: a gap;
2. Oct 29's file is copied in late, and the runs for Oct 31 and Nov 1 never happen. The run
   for Nov 2 reloads its lookback window: the gap is filled, the missed days are loaded,
   and October is closed (the first run on or after its last day);
3. a PED row raising checkout-api to max 6 from Oct 11 reaches the log after the close. The
   run for Nov 3 re-judges the window (the false hpa_max_over_limit rows go) and restates
   October: version 2 at 351, naming the change; version 1 is kept, superseded.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from tests.dags.conftest import RUN_DAYS
from tests.support.airflow_cli import local_env, query, run_script
from tests.support.payments_month import CLUSTER, change, write_day

OCTOBER = date(2026, 10, 1)


def snapshot(duckdb_path) -> SimpleNamespace:
    """What the story checks after each step."""
    return SimpleNamespace(
        gaps=[str(row["snapshot_date"]) for row in query(duckdb_path, "select snapshot_date from fct_snapshot_gaps")],
        days=[
            str(row["snapshot_date"])
            for row in query(duckdb_path, "select distinct snapshot_date from fct_deployment_daily order by 1")
        ],
        hpa_breach_days=[
            str(row["snapshot_date"])
            for row in query(
                duckdb_path,
                "select snapshot_date from fct_replica_breaches where breach_type = 'hpa_max_over_limit' order by 1",
            )
        ],
    )


def statements(duckdb_path) -> list[dict]:
    if not query(
        duckdb_path,
        "select 1 from information_schema.tables where table_name = 'fct_billing_statements'",
    ):
        return []
    return query(
        duckdb_path,
        "select deployment, statement_version, billed_max_replicas, amount,"
        " superseded_at is not null as superseded, restatement_reason"
        " from fct_billing_statements where billing_month = ? order by deployment, statement_version",
        [OCTOBER],
    )


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> SimpleNamespace:
    local = tmp_path_factory.mktemp("month_story")
    archive, changes = local / "archive", local / "ped.jsonl"
    changes.write_text(
        change("ped-1", "checkout-api", max_replicas=4, cpu=2, memory_gb=4, changed_at="2026-09-01T00:00:00Z")
        + change("ped-2", "ledger-api", max_replicas=7, cpu=0.2, memory_gb=1.5, changed_at="2026-09-01T00:00:00Z")
    )
    for day in ("2026-10-28", "2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03"):
        write_day(archive, day)
    env = local_env(
        local,
        REPLICA_LEDGER_ARCHIVE_DIR=str(archive),
        REPLICA_LEDGER_PED_CHANGES=str(changes),
        REPLICA_LEDGER_CLUSTERS=CLUSTER,
    )
    warehouse = local / "warehouse.duckdb"

    def run(first: str, last: str, step: str, init: bool = False) -> None:
        command = RUN_DAYS.format(first=first, last=last)
        run_script(
            ("bash scripts/airflow_init.sh $AIRFLOW_MAJOR && " if init else "") + command,
            env,
            timeout=900,
            log=local / f"{step}.log",
        )

    run("2026-10-28", "2026-10-30", "1-october", init=True)
    before_close = snapshot(warehouse)
    statements_before_close = statements(warehouse)

    write_day(archive, "2026-10-29")  # copied in by hand, days late
    run("2026-11-02", "2026-11-02", "2-november-2")
    closed = snapshot(warehouse)
    statements_closed = statements(warehouse)

    with changes.open("a") as log:
        log.write(
            change("ped-late", "checkout-api", max_replicas=6, cpu=2, memory_gb=4, changed_at="2026-10-11T00:00:00Z")
        )
    run("2026-11-03", "2026-11-03", "3-november-3")
    return SimpleNamespace(
        before_close=before_close,
        statements_before_close=statements_before_close,
        closed=closed,
        statements_closed=statements_closed,
        restated=snapshot(warehouse),
        statements_restated=statements(warehouse),
        local=local,
    )


def test_a_day_without_its_file_is_a_gap_and_nothing_is_billed_before_the_month_ends(story):
    assert story.before_close.gaps == ["2026-10-29"]
    assert story.before_close.days == ["2026-10-28", "2026-10-30"]
    assert story.statements_before_close == []


def test_the_late_file_fills_its_gap_and_the_missed_days_are_loaded(story):
    assert story.closed.gaps == []
    assert story.closed.days == ["2026-10-28", "2026-10-29", "2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]
    # The HPA at max 6 over the approved 4 is judged on every day, the late one included.
    assert "2026-10-29" in story.closed.hpa_breach_days


def test_the_missed_month_end_run_does_not_leave_october_unbilled(story):
    assert [
        (row["deployment"], row["statement_version"], row["billed_max_replicas"], row["amount"])
        for row in story.statements_closed
    ] == [
        ("checkout-api", 1, 4, Decimal("294.00")),
        ("ledger-api", 1, 7, Decimal("236.53")),
    ]


def test_the_late_ped_row_restates_october_and_clears_the_false_breaches(story):
    rows = story.statements_restated
    assert [(row["deployment"], row["statement_version"], row["amount"], row["superseded"]) for row in rows] == [
        ("checkout-api", 1, Decimal("294.00"), True),
        ("checkout-api", 2, Decimal("351.00"), False),
        ("ledger-api", 1, Decimal("236.53"), False),
    ]
    assert "ped-late" in rows[1]["restatement_reason"]
    # Every day of the Nov 3 run's lookback window (Oct 27..Nov 3) is re-judged against the
    # approved max 6: the HPA at 6 is no breach on any of them.
    assert story.restated.hpa_breach_days == []


def test_the_restatement_is_version_2_of_the_teams_statement_with_its_reason(story):
    """The close wrote the payments team's version 1 and told its route; the late PED row's
    restatement wrote version 2, saying why and what changed, and told the route again."""
    october = story.local / "statements" / "2026-10" / "payments"
    assert sorted(path.name for path in october.iterdir()) == ["v1", "v2"]
    version_2 = json.loads((october / "v2" / "statement.json").read_text())
    assert (version_2["is_restatement"], version_2["total_amount"], version_2["previous_version_total"]) == (
        True,
        "587.53",
        "530.53",
    )
    (restated,) = [line for line in version_2["lines"] if line["change_kind"] == "restated"]
    assert "ped-late" in restated["restatement_reason"] and restated["previous_amount"] == "294.00"
    messages = sorted(path.name for path in (story.local / "outbox").glob("statement__*.txt"))
    assert [name.split("__")[3] for name in messages] == ["v1", "v2"]
    text = (story.local / "outbox" / messages[1]).read_text()
    assert "restated (version 2)" in text and "ped-late" in text and "294.00 EUR → 351.00 EUR" in text

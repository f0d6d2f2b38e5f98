"""The alert path on DuckDB end to end: snapshot files -> load -> real dbt build ->
fct_breach_alerts -> route_alerts / post_slack task functions -> a real HTTP server standing
in for Slack, with alert_log as the record.

One fleet over four days (relative to today, so that the runs may post):

* day 1: payments/checkout-api on gke-eu has its HPA max at 6 against an approved 4 (new
  hpa_max_over_limit episode, excess 2 x 28.50 = 57.00 a month); gke-us is compliant.
* day 2: the same HPA (open episode); gke-us's file is missing when day 2 runs.
* later, gke-us's day-2 file is dropped in: the Deployment wanted 5 replicas (a new
  replicas_over_limit episode that day 2's alert never saw); the day is reloaded and rebuilt
  by a backfill (which never posts).
* day 3: both episodes open: the late one is announced once, the HPA one not again.
* day 4: nothing new; a re-run of day 3 under a new run id announces nothing either.

And a late file that reveals an episode which had ended before the run that reads it.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import duckdb
import pytest

from replica_ledger import pipeline
from replica_ledger.airflow import tasks
from replica_ledger.settings import load_settings
from tooling.k8s_objects import deployment_object, hpa_object, kubectl_list

POST, SKIP = "alert.post_slack", "alert.no_alert"


def write_day(root, day: date, cluster: str, *, replicas: int, hpa_max: int) -> None:
    items = [
        deployment_object("payments", "checkout-api", replicas=replicas, cpu=2, memory_gb=4, team="payments"),
        hpa_object("payments", "checkout-api", target="checkout-api", min_replicas=2, max_replicas=hpa_max, current=3),
    ]
    folder = root / f"dt={day.isoformat()}"  # contract §1.1
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{cluster}.json").write_text(json.dumps(kubectl_list(items)))


def context(day: date, run_id: str | None = None, run_type: str = "scheduled") -> dict:
    run_id = run_id or f"{run_type}__{day.isoformat()}T00:00:00+00:00"
    return {
        "logical_date": datetime(day.year, day.month, day.day, tzinfo=UTC),
        "run_id": run_id,
        "dag_run": SimpleNamespace(run_type=run_type, run_id=run_id),
    }


@pytest.fixture
def days(clock):
    """The four days before the test clock's today (the last one is the current run's day)."""
    today = clock.today()
    return tuple(today - timedelta(days=n) for n in (4, 3, 2, 1))


@pytest.fixture
def fleet(tmp_path, worker_warehouse, monkeypatch, slack, days):
    day1, day2, day3, day4 = days
    archive_dir = tmp_path / "archive"
    changes = tmp_path / "ped.jsonl"
    changes.write_text(
        json.dumps(
            {
                "change_id": "ped-1",
                "namespace": "payments",
                "deployment": "checkout-api",
                "team": "payments",
                "min_replicas": 2,
                "max_replicas": 4,
                "cpu": 2,
                "memory_gb": 4,
                "changed_at": f"{day1 - timedelta(days=30)}T00:00:00Z",
                "action": "upsert",
            }
        )
        + "\n"
    )
    for name, value in {
        "REPLICA_LEDGER_ARCHIVE_DIR": archive_dir,
        "REPLICA_LEDGER_PED_CHANGES": changes,
        "REPLICA_LEDGER_LOCAL_DIR": tmp_path,
        "REPLICA_LEDGER_DUCKDB": worker_warehouse,
        "REPLICA_LEDGER_SLACK_OUTBOX": tmp_path / "outbox",
        "REPLICA_LEDGER_CLUSTERS": "gke-eu,gke-us",
        "REPLICA_LEDGER_ALERT_MAX_AGE_DAYS": "4",
        "REPLICA_LEDGER_DBT_TARGET": "duckdb",
        # The days build models only: the alert path is what is checked here.
        "REPLICA_LEDGER_DBT_DAILY_TESTS": "false",
    }.items():
        monkeypatch.setenv(name, str(value))
    write_day(archive_dir, day1, "gke-eu", replicas=3, hpa_max=6)
    write_day(archive_dir, day1, "gke-us", replicas=3, hpa_max=4)
    write_day(archive_dir, day2, "gke-eu", replicas=3, hpa_max=6)
    for day in (day3, day4):
        write_day(archive_dir, day, "gke-eu", replicas=3, hpa_max=6)
        write_day(archive_dir, day, "gke-us", replicas=5, hpa_max=4)
    return SimpleNamespace(archive=archive_dir, warehouse=worker_warehouse, slack=slack)


def build(day: date) -> None:
    settings = load_settings()
    pipeline.load_day(settings, day)
    pipeline.build_day(settings, day)


def run_alert(day: date, **kw) -> tuple[str, dict | None]:
    """route_alerts, then post_slack when it chose to (as the DAG does)."""
    ctx = context(day, **kw)
    branch = tasks.choose_alert_branch(ctx, POST, SKIP)
    return branch, tasks.post_alerts(ctx) if branch == POST else None


def alert_log(path) -> list[tuple]:
    con = duckdb.connect(str(path))
    try:
        return con.execute(
            "select cluster, deployment, breach_type, episode_started_on, route, status, snapshot_date"
            " from main.alert_log order by snapshot_date, cluster"
        ).fetchall()
    finally:
        con.close()


def alert_model_rows(path, day: date) -> list[tuple]:
    con = duckdb.connect(str(path))
    try:
        sql = "select * from main.fct_breach_alerts where snapshot_date = ? order by all"
        return con.execute(sql, [day]).fetchall()
    finally:
        con.close()


def posted_texts(slack) -> list[str]:
    return [json.dumps(post.body, ensure_ascii=False) for post in slack.posts("slack_payments_webhook")]


def test_alerts_once_per_episode_across_reruns_days_and_a_late_file(fleet, days):
    day1, day2, day3, day4 = days
    route = "slack_payments_webhook#payments-alerts"

    # Day 1: the read model has the new episode with its excess priced by dbt.
    build(day1)
    (row,) = tasks.episodes_of_day(load_settings(), day1)
    assert (row["cluster"], row["breach_type"], row["status"], row["excess_replicas"]) == (
        "gke-eu",
        "hpa_max_over_limit",
        "new",
        2,
    )
    assert float(row["excess_monthly_cost"]) == 57.00
    branch, report = run_alert(day1)
    assert branch == POST and report["messages"] == 1
    (text,) = posted_texts(fleet.slack)
    assert "payments/checkout-api" in text and "Excess ≈ 57.00 EUR a month." in text
    assert alert_log(fleet.warehouse) == [("gke-eu", "checkout-api", "hpa_max_over_limit", day1, route, "sent", day1)]

    # The task retried, and a manual re-run of day 1 under a new run id: nothing new to say.
    assert run_alert(day1)[0] == SKIP
    assert "already_sent" in tasks.post_alerts(context(day1))["results"][0]
    assert run_alert(day1, run_id="manual__rerun-day-1", run_type="manual")[0] == SKIP

    # Day 2: the episode is still open (gke-us has no file yet): not announced again.
    build(day2)
    statuses = {r["cluster"]: r["status"] for r in tasks.episodes_of_day(load_settings(), day2)}
    assert statuses == {"gke-eu": "open"}
    assert run_alert(day2)[0] == SKIP

    # gke-us's day-2 file arrives late and a backfill reloads day 2: it never posts.
    write_day(fleet.archive, day2, "gke-us", replicas=5, hpa_max=4)
    build(day2)
    assert run_alert(day2, run_type="backfill")[0] == SKIP

    # Day 3: the late episode is announced once, by the first run allowed to post that sees it.
    build(day3)
    branch, report = run_alert(day3)
    assert branch == POST
    assert len(fleet.slack.posts()) == 2
    late = posted_texts(fleet.slack)[-1]
    assert "Replicas above the approved max" in late and "gke-us" in late and "reported late" in late
    assert "HPA max raised" not in late  # the day-1 episode was announced already
    assert alert_log(fleet.warehouse)[-1] == (
        "gke-us",
        "checkout-api",
        "replicas_over_limit",
        day2,
        route,
        "sent",
        day3,
    )

    # A re-run of day 3 and day 4's run: both episodes are open and known, nothing is posted.
    assert run_alert(day3, run_id="manual__rerun-day-3", run_type="manual")[0] == SKIP
    build(day4)
    assert run_alert(day4)[0] == SKIP
    assert len(fleet.slack.posts()) == 2
    assert len(alert_log(fleet.warehouse)) == 2

    # Day 3 rebuilt after day 4: its read model rows are what its own run saw.
    day3_rows = alert_model_rows(fleet.warehouse, day3)
    build(day3)
    assert alert_model_rows(fleet.warehouse, day3) == day3_rows


def test_a_late_file_reveals_an_episode_that_ended_before_the_run_day(fleet, days):
    """gke-us wanted 5 replicas on day 2 only, and its day-2 file arrives after day 3 ran.
    Day 4's run reloads day 2 (inside its window): the episode, new on day 2 and resolved
    on day 3, is in no row of day 4, and is announced once all the same."""
    day1, day2, day3, day4 = days
    route = "slack_payments_webhook#payments-alerts"
    for day in (day3, day4):
        write_day(fleet.archive, day, "gke-us", replicas=3, hpa_max=4)
    for day in (day1, day2, day3):
        build(day)
        run_alert(day)
    assert len(fleet.slack.posts()) == 1  # day 1's HPA episode
    write_day(fleet.archive, day2, "gke-us", replicas=5, hpa_max=4)

    build(day4)
    assert [row[2] for row in alert_model_rows(fleet.warehouse, day4)] == ["gke-eu"]
    assert run_alert(day4)[0] == POST
    late = posted_texts(fleet.slack)[-1]
    assert "gke-us" in late and "Replicas above the approved max" in late
    assert "HPA max raised" not in late  # announced on day 1
    announced = ("gke-us", "checkout-api", "replicas_over_limit", day2, route, "sent", day4)
    assert alert_log(fleet.warehouse)[-1] == announced
    assert run_alert(day4, run_id="manual__rerun-day-4", run_type="manual")[0] == SKIP
    assert len(fleet.slack.posts()) == 2


def test_a_full_rebuild_keeps_alert_log_and_gives_the_same_alert_rows(fleet, days):
    day1, day2, day3, _day4 = days
    for day in (day1, day2, day3):
        build(day)
    assert run_alert(day3)[0] == POST
    daily = [alert_model_rows(fleet.warehouse, day) for day in (day1, day2, day3)]
    settings = load_settings()
    from replica_ledger.dbt_runner import build_vars, run_dbt

    full_rebuild = ["build", "--full-refresh", "--exclude-resource-type", "unit_test", "--vars", build_vars(settings)]
    run_dbt(settings, full_rebuild)
    assert [alert_model_rows(fleet.warehouse, day) for day in (day1, day2, day3)] == daily
    assert len(alert_log(fleet.warehouse)) == 2
    assert run_alert(day3)[0] == SKIP


def test_production_has_no_outbox_a_missing_connection_fails_and_the_next_run_posts_once(
    fleet, days, tmp_path, monkeypatch
):
    """REPLICA_LEDGER_ENV=gcp (the alert path on the DuckDB warehouse the days were built in):
    the payments route's connection is missing, so the alert task fails naming it, writes no
    outbox and leaves alert_log empty; once the connection exists the next run posts the
    episode once (to a real HTTP receiver), and the run after that posts nothing."""
    from replica_ledger.alerts import AlertDeliveryError
    from tests.replica_ledger.gcp.rendering import GCP_ENV
    from tooling.slack_receiver import SlackReceiver

    day1 = days[0]
    build(day1)
    for name, value in GCP_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REPLICA_LEDGER_CLUSTERS", "gke-eu,gke-us")
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_PAYMENTS_WEBHOOK")
    assert load_settings().gcp is not None and load_settings().dbt_target == "duckdb"
    route = "slack_payments_webhook#payments-alerts"

    with SlackReceiver(tmp_path / "received") as receiver:
        assert tasks.choose_alert_branch(context(day1), POST, SKIP) == POST
        with pytest.raises(AlertDeliveryError, match=r"'slack_payments_webhook'.*does not exist"):
            tasks.post_alerts(context(day1))
        assert alert_log(fleet.warehouse) == []
        assert not (tmp_path / "outbox").exists()

        monkeypatch.setenv("AIRFLOW_CONN_SLACK_PAYMENTS_WEBHOOK", receiver.connection_json("T0/B0/payments"))
        retry = context(day1, run_id="manual__after-the-connection", run_type="manual")
        assert tasks.choose_alert_branch(retry, POST, SKIP) == POST
        assert tasks.post_alerts(retry)["messages"] == 1
        (posted,) = receiver.received_files()
        assert "payments/checkout-api" in posted.read_text()
        assert alert_log(fleet.warehouse) == [
            ("gke-eu", "checkout-api", "hpa_max_over_limit", day1, route, "sent", day1)
        ]

        third = context(day1, run_id="manual__third", run_type="manual")
        assert tasks.choose_alert_branch(third, POST, SKIP) == SKIP
        assert "already_sent" in tasks.post_alerts(third)["results"][0]
        assert len(receiver.received_files()) == 1
    assert fleet.slack.posts() == []  # the other receiver (the suite's) heard nothing
    assert not (tmp_path / "outbox").exists()


def raise_log(path) -> list[tuple]:
    """limit_raise_log's rows; none while no run allowed to post has opened it."""
    con = duckdb.connect(str(path))
    try:
        if not con.execute("select 1 from information_schema.tables where table_name = 'limit_raise_log'").fetchall():
            return []
        return con.execute(
            "select change_id, namespace, deployment, route, status, snapshot_date from main.limit_raise_log"
            " order by change_id"
        ).fetchall()
    finally:
        con.close()


def test_a_ped_raise_is_announced_to_the_platform_once_and_never_by_a_backfill(fleet, days, monkeypatch):
    """PED raises checkout-api from max 4 to 6 on day 2. The backfill of day 2 builds it and
    posts nothing; the regular run of day 2 tells the platform route once (the old and new
    max, and what it adds to the bill, priced by dbt: 351.00 - 294.00); a re-run and the
    next day's run do not tell it again."""
    _day1, day2, day3, _day4 = days
    monkeypatch.setenv("REPLICA_LEDGER_CURRENCY", "USD")
    changes = load_settings().ped_changes
    raised = {
        "change_id": "ped-2",
        "namespace": "payments",
        "deployment": "checkout-api",
        "team": "payments",
        "min_replicas": 2,
        "max_replicas": 6,
        "cpu": 2,
        "memory_gb": 4,
        "changed_at": f"{day2}T10:00:00Z",
        "action": "upsert",
    }
    changes.write_text(changes.read_text() + json.dumps(raised) + "\n")
    platform = "slack_default_webhook"

    build(day2)  # its window loads day 1 too
    assert run_alert(day2, run_type="backfill")[0] == SKIP
    assert tasks.post_alerts(context(day2, run_type="backfill"))["allowed"] is False
    assert fleet.slack.posts(platform) == [] and raise_log(fleet.warehouse) == []

    branch, report = run_alert(day2)
    assert branch == POST and report["raises_announced"] == ["ped-2"]
    (notice,) = fleet.slack.posts(platform)
    text = json.dumps(notice.body, ensure_ascii=False)
    assert "*payments/checkout-api* (team payments): approved max *4 → 6*" in text
    assert "Adds *57.00 USD* a month to the bill: 294.00 USD at max 4 → 351.00 USD at max 6." in text
    assert raise_log(fleet.warehouse) == [
        ("ped-2", "payments", "checkout-api", "slack_default_webhook#platform-replica-ledger", "sent", day2)
    ]

    assert run_alert(day2, run_id="manual__rerun-day-2", run_type="manual")[0] == SKIP
    assert run_alert(day3)[0] == SKIP  # the next day still reads the raise, and knows it was told
    assert len(fleet.slack.posts(platform)) == 1
    assert len(raise_log(fleet.warehouse)) == 1

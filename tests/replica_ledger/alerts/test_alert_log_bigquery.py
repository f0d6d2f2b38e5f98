"""alert_log and the read model on BigQuery, for real: the google-cloud-bigquery client
against the BigQuery emulator (tooling/emulators/bigquery.py) on 127.0.0.1.

The emulator runs the same SQL (MERGE, UPDATE, DELETE, UNNEST of array parameters) but not
BigQuery's concurrency control, so the race test checks the property that must hold
whatever the interleaving (no episode won twice), and the tie rule of the read-back is
tested by putting two claimers' rows in place, as two concurrent MERGEs can.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from replica_ledger.airflow.slack import SLACK
from replica_ledger.alerts import AlertLog, episodes_from_rows, load_routes, send_alerts
from replica_ledger.alerts.read_model import episodes_of_day
from replica_ledger.settings import Settings
from replica_ledger.warehouse.bigquery import BigQueryAlertLog
from tooling.emulators import bigquery as bq_emulator

from .conftest import TODAY
from .factories import batch, ep

DAY = date(2024, 5, 3)
ROUTE = "slack_default_webhook"

pytestmark = pytest.mark.skipif(not bq_emulator.is_installed(), reason="BigQuery emulator venv not installed")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bigquery_emulator")
    emulator = bq_emulator.start(data_dir=folder / "data", log_path=folder / "bigquery.log")
    yield emulator
    emulator.stop()


@pytest.fixture
def client(emulator, request):
    """A client and a fresh dataset per test (named after it), dropped afterwards."""
    client = emulator.client()
    dataset = "alerts_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:60]
    client.create_dataset(dataset, exists_ok=True)
    client.dataset_name = dataset
    yield client
    client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)


def _claim(ledger, episodes, run_id="r1", route=ROUTE):
    return ledger.claim(route=route, run_id=run_id, snapshot_date=DAY, episodes=episodes, message_hash="h1")


def test_claim_confirm_release_find(client):
    ledger = BigQueryAlertLog(client, client.dataset_name)
    assert isinstance(ledger, AlertLog)
    a, b = ep("a-api"), ep("b-api")
    first = _claim(ledger, [a])
    assert first.won == {a.key}
    (rec,) = ledger.records()
    assert (rec.status, rec.sent_at, rec.run_id, rec.episode_started_on) == ("failed", None, "r1", DAY)
    second = _claim(ledger, [a, b], run_id="r2")
    assert second.won == {b.key} and second.held[a.key].claim_token == first.token
    ledger.confirm(first.token, status="sent", message_hash="h-final")
    ledger.release(second.token)
    (rec,) = ledger.records()
    assert (rec.deployment, rec.status, rec.message_hash) == ("a-api", "sent", "h-final") and rec.sent_at
    assert set(ledger.find(ROUTE, [a, b])) == {a.key}
    assert _claim(ledger, [a], route="slack_orders_webhook").won == {a.key}
    # Created if missing, kept if present: a second ledger object sees the same rows.
    assert len(BigQueryAlertLog(client, client.dataset_name).records()) == 2


def test_two_claimers_at_once_never_both_win(client):
    BigQueryAlertLog(client, client.dataset_name)
    episodes = [ep(f"api-{i}") for i in range(5)]
    ledgers = [BigQueryAlertLog(client, client.dataset_name) for _ in range(2)]
    start = threading.Barrier(2)

    def claim(i):
        start.wait()
        return _claim(ledgers[i], episodes, run_id=f"r{i}")

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(claim, range(2))
    assert first.won & second.won == set()
    # Every episode has at most one row left, and a row only for a winner.
    rows = ledgers[0].records()
    assert len({r.episode_key for r in rows}) == len(rows)
    assert {r.key for r in rows} == first.won | second.won


def test_a_tie_between_two_merges_leaves_at_most_one_winner(client):
    """Two MERGEs on snapshots taken before either committed both insert. The first read-back
    sees two rows: that claimer gives up and deletes its row. The second then sees its own
    row alone and is the only one to post. (Had both read before either deleted, both would
    give up, and a later run would announce the episode.)"""
    ledger = BigQueryAlertLog(client, client.dataset_name)
    a = ep("a-api")
    tokens = ("token-a", "token-b")
    for token in tokens:
        client.query(
            f"INSERT INTO `{ledger.table}` (snapshot_date, cluster, namespace, deployment, breach_type,"
            " episode_started_on, route, status, episode_key, run_id, claim_token, claimed_at)"
            f" VALUES (DATE '{DAY}', '{a.cluster}', '{a.namespace}', '{a.deployment}', '{a.breach_type}',"
            f" DATE '{DAY}', '{ROUTE}', 'failed', '{a.episode_key}', 'r', '{token}', CURRENT_TIMESTAMP())"
        ).result()
    first, second = (ledger._read_back(ROUTE, [a], token) for token in tokens)
    assert (first.won, second.won) == (set(), {a.key})
    assert [r.claim_token for r in ledger.records()] == ["token-b"]


def test_send_alerts_with_the_bigquery_ledger_posts_once(client, slack, routes_csv, tmp_path):
    ledger = BigQueryAlertLog(client, client.dataset_name)
    kw = dict(
        routes=load_routes(routes_csv),
        ledger=ledger,
        transport=SLACK,
        is_backfill=False,
        max_age_days=2,
        today=TODAY,
        outbox_dir=tmp_path,
    )
    first = send_alerts(batch([ep("checkout-api")]), **kw)
    assert [r.status for r in first.results] == ["posted"]
    again = send_alerts(batch([ep("checkout-api"), ep("refund-api")]), **kw)
    assert [r.status for r in again.results] == ["posted"]
    assert [("refund-api" in str(p.body), "checkout-api" in str(p.body)) for p in slack.posts()] == [
        (False, True),
        (True, False),
    ]
    assert send_alerts(batch([ep("checkout-api"), ep("refund-api")]), **kw).results[0].status == "already_sent"
    assert [(r.deployment, r.status) for r in ledger.records()] == [("checkout-api", "sent"), ("refund-api", "sent")]


def test_read_model_query_on_bigquery(client):
    """episodes_of_day reads fct_breach_alerts with the day as a query parameter."""
    table = f"{client.project}.{client.dataset_name}.fct_breach_alerts"
    client.query(
        f"""
        CREATE TABLE `{table}` AS
        SELECT DATE '2024-05-03' AS snapshot_date, 'eu' AS cluster, 'shop' AS namespace, 'api' AS deployment,
               'shop' AS team, 'replicas_over_limit' AS breach_type, 6 AS observed_value,
               4 AS approved_max_replicas, DATE '2024-05-03' AS episode_started_on, 'new' AS episode_status,
               2.0 AS cpu, 4.0 AS memory_gb, 2 AS excess_replicas, NUMERIC '57.00' AS excess_monthly_cost,
               'ana@example.com' AS crossed_by, 'kubectl' AS crossed_with,
               TIMESTAMP '2024-05-02 15:20:00+00' AS crossed_at, 'max_replicas' AS crossed_field,
               3 AS crossed_from_value, 6 AS crossed_to_value, CAST(NULL AS TIMESTAMP) AS ped_approved_at,
               CAST(NULL AS INT64) AS ped_approved_max_replicas, 'api-hpa' AS hpa_name
        UNION ALL
        SELECT DATE '2024-05-02', 'eu', 'shop', 'api', 'shop', 'replicas_over_limit', 6, 4, DATE '2024-05-02',
               'new', 2.0, 4.0, 2, NUMERIC '57.00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
        """
    ).result()
    settings = replace(Settings(), dbt_target="bigquery", dataset=client.dataset_name)
    (row,) = episodes_of_day(settings, DAY, bigquery_client=client)
    assert (row["started_on"], row["status"], str(row["excess_monthly_cost"])) == (DAY, "new", "57")
    # Back to the day before: the episode only that day lists too (two query parameters).
    both = episodes_of_day(settings, DAY, since=DAY - timedelta(days=1), bigquery_client=client)
    assert [(r["started_on"], r["snapshot_date"]) for r in both] == [(DAY - timedelta(days=1),) * 2, (DAY, DAY)]
    # who crossed the limit: BigQuery's aware timestamp becomes naive UTC
    (episode,) = episodes_from_rows([row])
    assert (episode.crossing.principal, episode.crossing.changed_at) == (
        "ana@example.com",
        datetime(2024, 5, 2, 15, 20),
    )
    assert episode.hpa_name == "api-hpa"


def test_the_dag_alert_tasks_on_a_bigquery_target(client, emulator, slack, monkeypatch, tmp_path, clock):
    """route_alerts and post_slack on BigQuery: the read model and alert_log of the dataset,
    reached from the environment as in production (here at the emulator's endpoint)."""
    from datetime import UTC

    from replica_ledger.airflow import tasks

    day = clock.today() - timedelta(days=1)
    client.query(
        f"""
        CREATE TABLE `{client.project}.{client.dataset_name}.fct_breach_alerts` AS
        SELECT DATE '{day}' AS snapshot_date, 'eu' AS cluster, 'payments' AS namespace, 'checkout-api' AS deployment,
               'payments' AS team, 'hpa_max_over_limit' AS breach_type, 6 AS observed_value,
               4 AS approved_max_replicas, DATE '{day}' AS episode_started_on, 'new' AS episode_status,
               2.0 AS cpu, 4.0 AS memory_gb, 2 AS excess_replicas, NUMERIC '57.00' AS excess_monthly_cost,
               CAST(NULL AS STRING) AS crossed_by, CAST(NULL AS STRING) AS crossed_with,
               CAST(NULL AS TIMESTAMP) AS crossed_at, CAST(NULL AS STRING) AS crossed_field,
               CAST(NULL AS INT64) AS crossed_from_value, CAST(NULL AS INT64) AS crossed_to_value,
               CAST(NULL AS TIMESTAMP) AS ped_approved_at, CAST(NULL AS INT64) AS ped_approved_max_replicas,
               'checkout-api-hpa' AS hpa_name
        """
    ).result()
    # PED raised the API's max the same day: NUMERIC amounts come back as Decimal('294'), etc.
    client.query(
        f"""
        CREATE TABLE `{client.project}.{client.dataset_name}.mart_limit_raises` AS
        SELECT 'ped-2' AS change_id, 'payments' AS namespace, 'checkout-api' AS deployment, 'payments' AS team,
               TIMESTAMP '{day} 10:00:00+00' AS approved_at, DATE '{day}' AS approved_on,
               'ped-1' AS previous_change_id, 4 AS old_max_replicas, 6 AS new_max_replicas,
               NUMERIC '294.00' AS old_monthly_charge, NUMERIC '351.00' AS new_monthly_charge,
               NUMERIC '57.00' AS added_monthly_charge
        """
    ).result()
    for name, value in {
        **emulator.env(),
        "REPLICA_LEDGER_DBT_TARGET": bq_emulator.DBT_TARGET,
        "REPLICA_LEDGER_BQ_DATASET": client.dataset_name,
        "REPLICA_LEDGER_SLACK_OUTBOX": str(tmp_path / "outbox"),
    }.items():
        monkeypatch.setenv(name, value)
    run_id = f"scheduled__{day}T00:00:00+00:00"
    context = {
        "logical_date": datetime(day.year, day.month, day.day, tzinfo=UTC),
        "run_id": run_id,
        "dag_run": SimpleNamespace(run_type="scheduled", run_id=run_id),
    }
    assert tasks.choose_alert_branch(context, "post", "skip") == "post"
    report = tasks.post_alerts(context)
    assert report["messages"] == 1 and "posted" in report["results"][0]
    (post,) = slack.posts("slack_payments_webhook")
    assert "Excess ≈ 57.00 EUR a month." in str(post.body)
    assert "kubectl --context eu --namespace payments patch hpa checkout-api-hpa" in str(post.body)
    (notice,) = slack.posts("slack_default_webhook")
    assert "Adds *57.00 EUR* a month to the bill: 294.00 EUR at max 4 → 351.00 EUR at max 6." in str(notice.body)
    assert tasks.choose_alert_branch(context, "post", "skip") == "skip"
    rows = list(client.query(f"SELECT route, status FROM `{client.project}.{client.dataset_name}.alert_log`"))
    assert [(r["route"], r["status"]) for r in rows] == [("slack_payments_webhook#payments-alerts", "sent")]
    rows = list(client.query(f"SELECT change_id, status FROM `{client.project}.{client.dataset_name}.limit_raise_log`"))
    assert [(r["change_id"], r["status"]) for r in rows] == [("ped-2", "sent")]


def test_the_raise_log_on_bigquery_gives_a_change_id_to_one_claimer(client):
    from replica_ledger.alerts.raises import LimitRaise
    from replica_ledger.warehouse.bigquery import BigQueryRaiseLog

    ledger = BigQueryRaiseLog(client, client.dataset_name)
    approved_at = datetime(2024, 5, 3, 10)
    raise_ = LimitRaise("ped-2", "payments", "checkout-api", "payments", approved_at, 4, 6, None, None, None)
    first = ledger.claim(route=ROUTE, run_id="r1", snapshot_date=DAY, raises=[raise_], message_hash="h1")
    second = ledger.claim(route=ROUTE, run_id="r2", snapshot_date=DAY, raises=[raise_], message_hash="h1")
    assert first.won == {"ped-2"} and second.won == set() and second.held["ped-2"].run_id == "r1"
    ledger.confirm(first.token, status="sent", message_hash="h1")
    assert ledger.find(ROUTE, ["ped-2", "ped-3"])["ped-2"].status == "sent"
    # A tie (two MERGEs that both inserted): the claimer that sees another's row gives up its own.
    other = replace(raise_, change_id="ped-3")
    client.query(
        f"INSERT INTO `{ledger.table}` VALUES ('ped-3', 'payments', 'checkout-api', '{ROUTE}', 'failed', NULL, 'h',"
        " DATE '2024-05-03', 'r0', 'someone-else', CURRENT_TIMESTAMP())"
    ).result()
    tie = ledger.claim(route=ROUTE, run_id="r3", snapshot_date=DAY, raises=[other], message_hash="h1")
    assert tie.won == set() and tie.held["ped-3"].claim_token == "someone-else"
    assert [(r.change_id, r.claim_token) for r in ledger.records() if r.change_id == "ped-3"] == [
        ("ped-3", "someone-else")
    ]

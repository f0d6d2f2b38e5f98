"""The preflight's Airflow lookups inside a real task run, on a real metadata DB (SQLite,
made by scripts/airflow_init.sh, which also creates the duckdb_writer pool), on the Airflow
version of the interpreter running pytest.

A connection stored in the metadata DB (not an env var) is found through the task's own
connection lookup (the execution API on 3.x); a pool is read from the pool table on 2.11,
and on 3.x, where a task cannot read pools, the lookup answers None.

In the same metadata DB, a run whose preflight fails (the daily DAG's shape: preflight, the
collectors and the load after them whatever they did, the rest after the load) fails as a
run, loads nothing, and leaves one failure notice: the preflight's.
"""

from __future__ import annotations

import json
import textwrap
from types import SimpleNamespace

import pytest

from replica_ledger.airflow.compat import IS_AIRFLOW_3
from tests.support.airflow_cli import local_env, run_script

PROBE_DAG = textwrap.dedent(
    """
    import json, os
    from datetime import UTC, datetime

    from replica_ledger.airflow.compat import DAG, task

    with DAG(dag_id="preflight_probe", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:

        @task(task_id="lookups")
        def lookups():
            from replica_ledger.airflow.preflight import pool_exists
            from replica_ledger.airflow.slack import slack_connection_exists

            found = {
                "stored_connection": slack_connection_exists("slack_stored_webhook"),
                "missing_connection": slack_connection_exists("slack_nowhere_webhook"),
                "pool": pool_exists("duckdb_writer"),
                "missing_pool": pool_exists("no_such_pool"),
            }
            with open(os.environ["PROBE_OUT"], "w") as out:
                json.dump(found, out)

        lookups()

    from datetime import timedelta

    from replica_ledger.airflow.failure import failure_notifier
    from replica_ledger.airflow.preflight import require_passed

    default_args = {
        "on_failure_callback": failure_notifier(outbox_dir=os.environ["PROBE_OUTBOX"]),
        "retries": 1,  # the load's failure must not wait for a retry
        "retry_delay": timedelta(seconds=1),
    }
    with DAG(dag_id="preflight_fails", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC),
             default_args=default_args) as failing:

        @task(task_id="preflight", retries=0)
        def preflight():
            from replica_ledger.preflight import PreflightError

            raise PreflightError(["connection slack_payments_webhook: not defined"])

        @task(task_id="collect", trigger_rule="all_done")
        def collect():
            return "collected"

        @task(task_id="load", trigger_rule="all_done")
        def load(**context):
            require_passed(context)
            open(os.environ["PROBE_LOADED"], "w").close()

        @task(task_id="build")
        def build():
            return "built"

        preflight() >> collect() >> load() >> build()
    """
)


@pytest.fixture(scope="module")
def probed(tmp_path_factory) -> SimpleNamespace:
    """Both probe DAGs run once, by `dag.test()`, on one migrated metadata DB."""
    tmp_path = tmp_path_factory.mktemp("preflight_probe")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "preflight_probe.py").write_text(PROBE_DAG)
    probe = SimpleNamespace(
        lookups=tmp_path / "lookups.json",
        outbox=tmp_path / "outbox",
        loaded=tmp_path / "loaded",
        state=tmp_path / "state.txt",
    )
    env = local_env(
        tmp_path, PROBE_OUT=str(probe.lookups), PROBE_OUTBOX=str(probe.outbox), PROBE_LOADED=str(probe.loaded)
    )
    add_connection = (
        '"connections add slack_stored_webhook --conn-type slackwebhook'
        ' --conn-host http://127.0.0.1:9/services --conn-password T0/B0/stored"'
    )
    run = (
        "import sys; from datetime import UTC, datetime; sys.path.insert(0, 'scripts');"
        "from replica_ledger.airflow.compat import dagbag_class; from run_days import test_run;"
        f"bag = dagbag_class()(dag_folder='{dags}'); assert not bag.import_errors, bag.import_errors;"
        "test_run(bag.get_dag('preflight_probe'), datetime(2026, 1, 2, tzinfo=UTC));"
        "run = test_run(bag.get_dag('preflight_fails'), datetime(2026, 1, 2, tzinfo=UTC));"
        f"open('{probe.state}', 'w').write(str(getattr(run.state, 'value', run.state)))"
    )
    run_script(
        # The probe's folder as the DAGs folder: Airflow 3's dag.test() runs DAGs of its bundle.
        f"export AIRFLOW__CORE__DAGS_FOLDER={dags} && bash scripts/airflow_init.sh $AIRFLOW_MAJOR {add_connection}"
        f' && python -c "{run}"',
        env,
        timeout=600,
        log=tmp_path / "probe.log",
    )
    return probe


def test_connection_and_pool_lookups_in_a_real_task(probed):
    found = json.loads(probed.lookups.read_text())
    assert found["stored_connection"] is True
    assert found["missing_connection"] is False
    if IS_AIRFLOW_3:
        assert (found["pool"], found["missing_pool"]) == (None, None)
    else:
        assert (found["pool"], found["missing_pool"]) == (True, False)


def test_a_failed_preflight_fails_the_run_with_one_notice(probed):
    assert probed.state.read_text() == "failed"
    assert not probed.loaded.exists()
    notices = [json.loads(path.read_text()) for path in sorted(probed.outbox.glob("*.json"))]
    assert len(notices) == 1, [notice.get("text") for notice in notices]
    assert "preflight" in notices[0]["text"]
    assert "slack_payments_webhook" in json.dumps(notices[0])

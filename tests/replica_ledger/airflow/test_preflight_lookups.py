"""The preflight's Airflow lookups inside a real task run, on a real metadata DB (SQLite,
made by scripts/airflow_init.sh, which also creates the duckdb_writer pool), on the Airflow
version of the interpreter running pytest.

A connection stored in the metadata DB (not an env var) is found through the task's own
connection lookup (the execution API on 3.x); a pool is read from the pool table on 2.11,
and on 3.x, where a task cannot read pools, the lookup answers None.
"""

from __future__ import annotations

import json
import textwrap

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
    """
)


def test_connection_and_pool_lookups_in_a_real_task(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "preflight_probe.py").write_text(PROBE_DAG)
    out = tmp_path / "lookups.json"
    env = local_env(tmp_path, PROBE_OUT=str(out))
    add_connection = (
        '"connections add slack_stored_webhook --conn-type slackwebhook'
        ' --conn-host http://127.0.0.1:9/services --conn-password T0/B0/stored"'
    )
    probe = (
        "import sys; from datetime import UTC, datetime; sys.path.insert(0, 'scripts');"
        "from replica_ledger.airflow.compat import dagbag_class; from run_days import test_run;"
        f"bag = dagbag_class()(dag_folder='{dags}'); assert not bag.import_errors, bag.import_errors;"
        "test_run(bag.get_dag('preflight_probe'), datetime(2026, 1, 2, tzinfo=UTC))"
    )
    run_script(
        # The probe's folder as the DAGs folder: Airflow 3's dag.test() runs DAGs of its bundle.
        f"export AIRFLOW__CORE__DAGS_FOLDER={dags} && bash scripts/airflow_init.sh $AIRFLOW_MAJOR {add_connection}"
        f' && python -c "{probe}"',
        env,
        timeout=600,
        log=tmp_path / "probe.log",
    )
    found = json.loads(out.read_text())
    assert found["stored_connection"] is True
    assert found["missing_connection"] is False
    if IS_AIRFLOW_3:
        assert (found["pool"], found["missing_pool"]) == (None, None)
    else:
        assert (found["pool"], found["missing_pool"]) == (True, False)

"""The capture deadline fires for a run that is held back, through the real Airflow machinery
of the interpreter's version: the scheduler's deadline alerts on 3.x (with its executor
running the callback), the scheduler's SLA checks on 2.11 (the DAG processor runs the
sla_miss_callback). The platform route is a real HTTP receiver (tooling/slack_receiver.py).

The run for day D = today - 2 was created on time (D+1 00:00, as the timetable would) but
its load task waits for a pool with no slot, so the run never gets past its capture step.
With REPLICA_LEDGER_CAPTURE_DEADLINE_HOURS=6 the deadline, D+2 00:00 - 6 h, is yesterday
18:00 UTC: passed at any hour of the test. (2.11 checks SLAs only after a first success of
the task, so there the run of D-1 succeeded.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, date, datetime, timedelta

from replica_ledger.airflow.compat import AIRFLOW_MAJOR, IS_AIRFLOW_3
from replica_ledger.alerts.deadline import capture_deadline
from tests.support.airflow_cli import REPO_ROOT, VENV, local_env, run_script
from tooling.slack_receiver import SlackReceiver

DAG_ID = "replica_ledger_daily"
HELD_POOL = "held_back"
WAIT_S = 420

# Creates the held-back run of day D (and, on 2.11, the earlier successful run its SLA
# checks need) in the metadata DB, as the scheduler's timetable would have.
CREATE_RUNS = f"""
import sys
from datetime import UTC, date, datetime, timedelta

day = date.fromisoformat(sys.argv[1])
start = datetime(day.year, day.month, day.day, tzinfo=UTC)
end = start + timedelta(days=1)
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow.utils.types import DagRunType
from replica_ledger.airflow.compat import IS_AIRFLOW_3

if IS_AIRFLOW_3:
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.types import DagRunTriggeredByType

    dag = SerializedDagModel.get_dag("{DAG_ID}")
    dag.create_dagrun(
        run_id=f"scheduled__{{start.isoformat()}}", logical_date=start, data_interval=(start, end), run_after=end,
        run_type=DagRunType.SCHEDULED, triggered_by=DagRunTriggeredByType.TIMETABLE, state=DagRunState.QUEUED,
    )
else:
    from airflow.models.dagbag import DagBag
    from airflow.utils.session import create_session

    dag = DagBag(read_dags_from_db=True).get_dag("{DAG_ID}")
    before = start - timedelta(days=1)
    done = dag.create_dagrun(
        run_id=f"scheduled__{{before.isoformat()}}", execution_date=before, data_interval=(before, start),
        run_type=DagRunType.SCHEDULED, state=DagRunState.SUCCESS, external_trigger=False,
    )
    with create_session() as session:
        for ti in done.get_task_instances(session=session):
            ti.set_state(TaskInstanceState.SUCCESS, session=session)
    dag.create_dagrun(
        run_id=f"scheduled__{{start.isoformat()}}", execution_date=start, data_interval=(start, end),
        run_type=DagRunType.SCHEDULED, state=DagRunState.RUNNING, external_trigger=False,
    )
print("runs created")
"""


def _service(command: str, env: dict, log) -> subprocess.Popen:
    script = f'source scripts/airflow_env.sh {AIRFLOW_MAJOR} && export PATH="{VENV}/bin:$PATH" && exec {command}'
    return subprocess.Popen(
        ["bash", "-c", script], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen) -> None:
    """Stop a service this test started, with its children (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_a_held_back_run_tells_the_platform_route_before_the_capture_window_closes(tmp_path):
    day = datetime.now(UTC).date() - timedelta(days=2)
    assert capture_deadline(day, 6) < datetime.now(UTC)  # yesterday 18:00 UTC
    archive = tmp_path / "archive"
    archive.mkdir()
    with SlackReceiver(tmp_path / "received") as receiver:
        env = local_env(
            tmp_path,
            REPLICA_LEDGER_CAPTURE_DEADLINE_HOURS="6",
            REPLICA_LEDGER_WAREHOUSE_POOL=HELD_POOL,
            REPLICA_LEDGER_ARCHIVE_DIR=str(archive),
            REPLICA_LEDGER_CLUSTERS="gke-eu",
            AIRFLOW_CONN_SLACK_DEFAULT_WEBHOOK=receiver.connection_json("T0/B0/platform"),
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",  # only the run made here
            AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="60",
            NO_PROXY="127.0.0.1",
            no_proxy="127.0.0.1",
        )
        run_script(
            f"bash scripts/airflow_init.sh $AIRFLOW_MAJOR \"pools set {HELD_POOL} 0 'no slot: runs are held back'\""
            f' "dags reserialize" "dags unpause {DAG_ID}" && python -c \'{CREATE_RUNS}\' {day.isoformat()}',
            env,
            timeout=600,
            log=tmp_path / "setup.log",
        )
        services = []
        with (tmp_path / "services.log").open("w") as log:
            try:
                if IS_AIRFLOW_3:
                    services.append(
                        _service('airflow api-server --apps execution --port "$AIRFLOW_API_PORT"', env, log)
                    )
                services.append(_service("airflow scheduler", env, log))
                notices = _wait_for_notice(receiver, day)
            finally:
                for service in services:
                    _stop(service)
    assert notices, f"no capture deadline notice; services log tail:\n{(tmp_path / 'services.log').read_text()[-5000:]}"
    (body,) = notices  # one notice for the day
    closes = day + timedelta(days=2)
    assert f"possible until {closes.isoformat()} 00:00 UTC (6 h left)" in body
    assert f"scheduled__{day.isoformat()}" in body and DAG_ID in body


def _wait_for_notice(receiver: SlackReceiver, day: date) -> list[str]:
    needle = f"Day {day.isoformat()} not captured yet"
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = [path.read_text() for path in receiver.received_files() if needle in path.read_text()]
        if found:
            return found
        time.sleep(2)
    return []

#!/usr/bin/env bash
# make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD: the installed Airflow's own backfill of
# replica_ledger_daily over exactly the snapshot days FROM..TO.
#   Airflow 2.11: `airflow dags backfill` (runs in-process, no scheduler needed).
#   Airflow 3.x : `airflow backfill create`, which needs a scheduler, a dag-processor and an
#                 api-server (tasks call its execution API); they are started here and
#                 stopped on exit. Airflow 3's scheduler starts no run of a paused DAG,
#                 backfill runs included, so the DAG is unpaused for the backfill and paused
#                 again after; this scheduler runs with use_job_schedule off, so it starts
#                 the backfill's runs and never a scheduled (live) one.
# Backfill runs never take a live snapshot and never post to Slack. Successive calls on one
# AIRFLOW_HOME are fine, over any ranges: each call re-runs its days.
set -euo pipefail
FROM=$1
TO=$2
source "$(dirname "$0")/airflow_env.sh" "${AIRFLOW:-3}"
cd "$REPO_ROOT"
export REPLICA_LEDGER_RETRIES=${REPLICA_LEDGER_RETRIES:-0}
DAG_ID=replica_ledger_daily
# Steps print the seconds since this start (bench/bench_backfill.py reads them).
BACKFILL_STARTED=$(date +%s)
export BACKFILL_STARTED
step() { echo "== $* (+$(( $(date +%s) - BACKFILL_STARTED ))s)"; }

if [ "$AIRFLOW_MAJOR" = 2 ]; then
  step "airflow dags backfill $DAG_ID $FROM..$TO (Airflow 2)"
  # Each task in the backfill's own process, one at a time, with its log file
  # (tooling/airflow2_executor.py says why). Pools, trigger rules and states are Airflow's own.
  AIRFLOW2_EXECUTOR=tooling.airflow2_executor.InProcessExecutor bash scripts/airflow_init.sh 2 \
    "dags backfill $DAG_ID --start-date $FROM --end-date $TO --reset-dagruns --yes"
  python scripts/backfill_status.py "$DAG_ID" "$FROM" "$TO" --wait 0
else
  LOGS="$AIRFLOW_HOME/services"
  mkdir -p "$LOGS"
  export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False
  # Local-only pacing (Composer keeps Airflow's defaults). A task's supervisor wakes every
  # min_heartbeat_interval (default 5 s) and only then sees its finished task exit, so each
  # short task held one of the 2 executor slots ~5 s after it was done and the next task
  # waited for the slot; the scheduler sleeps scheduler_idle_sleep_time (default 1 s)
  # between idle loops, one wait per task hand-over. The DAG is serialized below and does
  # not change during a backfill, so the dag-processor need not re-parse it every 30 s.
  export AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL=1
  export AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME=0.25
  export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=600
  # A task's calls to the execution API time out after 5 s by default, then are retried; on
  # a busy 2-core machine, with SQLite waiting up to 60 s for its lock, a call can take
  # longer, and the retry of a call the server did apply fails the task.
  export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=60
  pids=()
  # The scheduler starts last: the tasks it launches call the api-server's execution API.
  # Only that API is served (the UI's core API doubled the api-server's start-up); to watch
  # in the UI, run `airflow api-server --apps core --port <another port>` on the same home.
  # Each service runs in its own process group (setsid), so that stopping it stops its
  # children too (the scheduler's executor workers and log server).
  start_services() {
    setsid airflow api-server --apps execution --port "$AIRFLOW_API_PORT" >> "$LOGS/api-server.log" 2>&1 &
    pids+=($!)
    setsid airflow dag-processor >> "$LOGS/dag-processor.log" 2>&1 & pids+=($!)
    python scripts/backfill_status.py --wait-for-api "http://127.0.0.1:$AIRFLOW_API_PORT/execution/health"
    setsid airflow scheduler >> "$LOGS/scheduler.log" 2>&1 & pids+=($!)
  }
  # SIGTERM, then SIGKILL after 30 s: a scheduler whose SIGTERM handler fires inside a
  # garbage-collector callback swallows its own exit ("Exception ignored in ...") and runs
  # on, and a plain `wait` for it never returned.
  stop_services() {
    local pid _
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
      for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      if kill -0 "$pid" 2>/dev/null; then
        echo "-- $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) did not stop on SIGTERM: killed"
        kill -KILL -- "-$pid" 2>/dev/null || true
      fi
    done
    wait 2>/dev/null || true
    pids=()
  }
  paused=0
  # shellcheck disable=SC2317  # run by the trap
  on_exit() {
    stop_services
    [ "$paused" = 1 ] || airflow dags pause "$DAG_ID" > "$LOGS/pause.log" 2>&1 || true
  }
  trap on_exit EXIT
  CREATE="backfill create --dag-id $DAG_ID --from-date $FROM --to-date $TO --reprocess-behavior completed --max-active-runs 1"
  # `backfill create` writes its runs while no other Airflow process runs. On SQLite a
  # concurrent scheduler, dag-processor or api-server write made it fail at once with
  # "database is locked": it reads then writes inside one transaction, and SQLite refuses
  # such a transaction the write lock without waiting (busy timeout or not) while another
  # connection holds it, as waiting could deadlock. The DAG is serialized first, so the
  # scheduler knows it before the dag-processor's first parse.
  step "airflow db migrate, dags reserialize, dags unpause, $CREATE (Airflow 3)"
  if ! bash scripts/airflow_init.sh 3 "dags reserialize" "dags unpause $DAG_ID" "$CREATE" > "$LOGS/init.out"; then
    # A backfill left open by an interrupted call: the scheduler finishes its runs and it
    # is closed, then the new one is created, again with no service running.
    grep -q AlreadyRunningBackfill "$AIRFLOW_HOME/airflow-init.log" || { cat "$LOGS/init.out"; exit 1; }
    step "an earlier backfill of $DAG_ID is still open: finishing its runs first"
    start_services
    python scripts/backfill_status.py "$DAG_ID" --wait-backfills-closed 3600
    stop_services
    # shellcheck disable=SC2086  # CREATE is a list of words
    airflow $CREATE > "$LOGS/backfill-create.log" 2>&1 || { tail -40 "$LOGS/backfill-create.log"; exit 1; }
  fi
  step "starting the api-server, dag-processor and scheduler"
  start_services
  step "runs started"
  # Then close the backfill record (or the next `backfill create` is refused) and pause
  # the DAG again.
  python scripts/backfill_status.py "$DAG_ID" "$FROM" "$TO" --wait 3600 --wait-backfills-closed 90 --pause || {
    echo "-- scheduler log tail:"; tail -30 "$LOGS/scheduler.log"; exit 1; }
  paused=1
fi
step "backfill $FROM..$TO done"

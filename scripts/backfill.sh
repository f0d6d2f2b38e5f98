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
# Backfill runs never take a live snapshot and never post to Slack.
set -euo pipefail
FROM=$1
TO=$2
source "$(dirname "$0")/airflow_env.sh" "${AIRFLOW:-3}"
cd "$REPO_ROOT"
export REPLICA_LEDGER_RETRIES=${REPLICA_LEDGER_RETRIES:-0}
DAG_ID=replica_ledger_daily
started=$(date +%s)
step() { echo "== $* (+$(( $(date +%s) - started ))s)"; }
bash scripts/airflow_init.sh "$AIRFLOW_MAJOR"

if [ "$AIRFLOW_MAJOR" = 2 ]; then
  step "airflow dags backfill $DAG_ID $FROM..$TO (Airflow 2)"
  airflow dags backfill "$DAG_ID" --start-date "$FROM" --end-date "$TO" --reset-dagruns --yes \
    > "$AIRFLOW_HOME/backfill.log" 2>&1 || { tail -60 "$AIRFLOW_HOME/backfill.log"; exit 1; }
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
  # Serialize the DAG now, so the scheduler knows it before the first loop of the processor.
  airflow dags reserialize > "$LOGS/reserialize.log" 2>&1 || { tail -40 "$LOGS/reserialize.log"; exit 1; }
  airflow dags unpause "$DAG_ID" > "$LOGS/unpause.log" 2>&1 || { tail -20 "$LOGS/unpause.log"; exit 1; }
  pids=()
  # The scheduler starts last: the tasks it launches call the api-server's execution API.
  start_services() {
    airflow api-server --port "$AIRFLOW_API_PORT" >> "$LOGS/api-server.log" 2>&1 & pids+=($!)
    airflow dag-processor >> "$LOGS/dag-processor.log" 2>&1 & pids+=($!)
    python scripts/backfill_status.py --wait-for-api "http://127.0.0.1:$AIRFLOW_API_PORT/api/v2/monitor/health"
    airflow scheduler >> "$LOGS/scheduler.log" 2>&1 & pids+=($!)
  }
  stop_services() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
  }
  # shellcheck disable=SC2317  # run by the trap
  on_exit() {
    stop_services
    airflow dags pause "$DAG_ID" > "$LOGS/pause.log" 2>&1 || true
  }
  trap on_exit EXIT
  # A backfill left open by an interrupted call: the scheduler finishes and closes it first,
  # or `backfill create` is refused (AlreadyRunningBackfill).
  if ! python scripts/backfill_status.py "$DAG_ID" --no-open-backfill; then
    step "finishing the open backfill first"
    start_services
    python scripts/backfill_status.py "$DAG_ID" --wait-backfills-closed 90
    stop_services
  fi
  # `backfill create` writes its runs while no other Airflow process runs. On SQLite a
  # concurrent scheduler, dag-processor or api-server write made it fail at once with
  # "database is locked": it reads then writes inside one transaction, and SQLite refuses
  # such a transaction the write lock without waiting (busy timeout or not) while another
  # connection holds it, as waiting could deadlock.
  step "airflow backfill create --dag-id $DAG_ID --from-date $FROM --to-date $TO (Airflow 3)"
  airflow backfill create --dag-id "$DAG_ID" --from-date "$FROM" --to-date "$TO" \
    --reprocess-behavior completed --max-active-runs 1 > "$LOGS/backfill-create.log" 2>&1 \
    || { tail -40 "$LOGS/backfill-create.log"; exit 1; }
  step "starting the api-server, scheduler and dag-processor"
  start_services
  python scripts/backfill_status.py "$DAG_ID" "$FROM" "$TO" --wait 3600 || {
    echo "-- scheduler log tail:"; tail -30 "$LOGS/scheduler.log"; exit 1; }
  # Leave no open backfill record behind, or the next `backfill create` is refused.
  step "runs finished; waiting for the scheduler to close the backfill"
  python scripts/backfill_status.py "$DAG_ID" --wait-backfills-closed 90
fi
step "backfill $FROM..$TO done"

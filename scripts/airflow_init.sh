#!/usr/bin/env bash
# Create (or upgrade) the local Airflow metadata DB and the one-slot DuckDB pool, then run
# the further `airflow` commands given after the version, each one quoted:
#   bash scripts/airflow_init.sh 3 "dags unpause replica_ledger_daily"
# All of them run in one interpreter (scripts/airflow_commands.py): an `airflow` process
# spends seconds importing Airflow first. Output: $AIRFLOW_HOME/airflow-init.log.
set -euo pipefail
source "$(dirname "$0")/airflow_env.sh" "${1:-3}"
shift $(( $# > 0 ? 1 : 0 ))
mkdir -p "$AIRFLOW_HOME"
LOG="$AIRFLOW_HOME/airflow-init.log"
python "$REPO_ROOT/scripts/airflow_commands.py" "db migrate" \
  "pools set duckdb_writer 1 'DuckDB allows one writer: every warehouse task takes this slot'" "$@" \
  > "$LOG" 2>&1 || { tail -40 "$LOG"; echo "(full log: $LOG)"; exit 1; }

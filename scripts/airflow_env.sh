# shellcheck shell=bash
# Environment for a local Airflow of version $1 (2 or 3), sourced by the Makefile's scripts.
# Everything lives under .local/ (gitignored); the contract's REPLICA_LEDGER_* variables
# pass through untouched when the caller set them.
AIRFLOW_MAJOR=${1:-3}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO_ROOT AIRFLOW_MAJOR
export VENV="$REPO_ROOT/.venv/af$AIRFLOW_MAJOR"
export PATH="$VENV/bin:$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$REPO_ROOT/.local/airflow$AIRFLOW_MAJOR}"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO_ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$REPO_ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__CORE__UNIT_TEST_MODE=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
# One writer at a time on SQLite: wait for the lock instead of failing after 5 s
# (tooling/airflow_sqlite.py, a local-only helper: Composer runs on Postgres).
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=tooling.airflow_sqlite.CONNECT_ARGS
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$AIRFLOW_HOME/logs"
export AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL=5
# include/ for the product package; the repo root for tooling/ (the connect args above).
export PYTHONPATH="$REPO_ROOT/include:$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false DO_NOT_TRACK=1
if [ "$AIRFLOW_MAJOR" = 3 ]; then
  # Airflow 3 runs tasks through the execution API of its api-server.
  export AIRFLOW_API_PORT="${AIRFLOW_API_PORT:-28080}"
  # Not the default 8793: that is the log server of the scheduler (LocalExecutor task logs).
  export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-28793}"
  export AIRFLOW__CORE__EXECUTOR=LocalExecutor
  export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC=tooling.airflow_sqlite.CONNECT_ARGS
  export AIRFLOW__CORE__PARALLELISM=2
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$AIRFLOW_API_PORT/execution/"
  export AIRFLOW__API__PORT="$AIRFLOW_API_PORT"
  export AIRFLOW__API__BASE_URL="http://127.0.0.1:$AIRFLOW_API_PORT"
  # A local-only signing key, made once per AIRFLOW_HOME (never committed).
  mkdir -p "$AIRFLOW_HOME"
  [ -f "$AIRFLOW_HOME/.jwt_secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$AIRFLOW_HOME/.jwt_secret"
  AIRFLOW__API_AUTH__JWT_SECRET=$(cat "$AIRFLOW_HOME/.jwt_secret")
  export AIRFLOW__API_AUTH__JWT_SECRET
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
else
  # SequentialExecutor, the one SQLite allows, but for scripts/backfill.sh's own through
  # AIRFLOW2_EXECUTOR (tooling/airflow2_executor.py: each task in the backfill's process).
  export AIRFLOW__CORE__EXECUTOR=${AIRFLOW2_EXECUTOR:-SequentialExecutor}
  export AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL=5
fi
# dbt docs in the Airflow UI (Browse > dbt Docs): Cosmos's view on 2.11, plugins/replica_ledger_dbt_docs.py
# on 3.x; both read [cosmos] dbt_docs_dir. Cosmos's own 3.x nav entry stays off (no dbt_docs_projects).
export AIRFLOW__COSMOS__DBT_DOCS_DIR="${AIRFLOW__COSMOS__DBT_DOCS_DIR:-${REPLICA_LEDGER_DBT_DOCS_DIR:-${REPLICA_LEDGER_LOCAL_DIR:-$REPO_ROOT/.local}/dbt_docs}}"
export AIRFLOW__COSMOS__ENABLE_TELEMETRY=False

#!/usr/bin/env bash
# Create (or upgrade) the local Airflow metadata DB and the one-slot DuckDB pool.
set -euo pipefail
source "$(dirname "$0")/airflow_env.sh" "${1:-3}"
mkdir -p "$AIRFLOW_HOME"
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -40 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
airflow pools set duckdb_writer 1 "DuckDB allows one writer: every warehouse task takes this slot" \
  > "$AIRFLOW_HOME/pools.log" 2>&1 || { tail -20 "$AIRFLOW_HOME/pools.log"; exit 1; }

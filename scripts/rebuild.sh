#!/usr/bin/env bash
# make rebuild: every dbt model rebuilt (`dbt build --full-refresh`, no run day) from the raw
# tables already in the warehouse named by REPLICA_LEDGER_DUCKDB (or the BigQuery target
# REPLICA_LEDGER_DBT_TARGET names). Nothing is loaded: the raw tables stay as they are, and
# so do the two append-only ledgers, fct_billing_statements (left out of the build; no
# month is closed or restated by a rebuild) and alert_log (never written by dbt).
# The DAG must not run meanwhile: DuckDB has one writer (the DAG's duckdb_writer pool).
set -euo pipefail
source "$(dirname "$0")/airflow_env.sh" "${AIRFLOW:-3}"
cd "$REPO_ROOT"
started=$(date +%s)
echo "== rebuilding every model from the raw tables (${REPLICA_LEDGER_DUCKDB:-$REPO_ROOT/.local/warehouse.duckdb})"
python - <<'PY'
import json

from replica_ledger import pipeline
from replica_ledger.settings import load_settings

print(json.dumps(pipeline.rebuild(load_settings()), indent=2))
PY
echo "== rebuild done in $(( $(date +%s) - started ))s"

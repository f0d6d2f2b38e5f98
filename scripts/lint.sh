#!/usr/bin/env bash
# make lint: ruff (with Airflow's AIR rules) over the Python, sqlfluff over the dbt models.
# Usage: scripts/lint.sh [VENV]   (default .venv/af3)
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${1:-$REPO_ROOT/.venv/af3}
cd "$REPO_ROOT"
# Absolute, because sqlfluff runs from inside dbt_project/.
VENV=$(cd "$VENV" && pwd)
echo "== ruff check"
"$VENV/bin/ruff" check .
echo "== ruff format --check"
"$VENV/bin/ruff" format --check .
echo "== sqlfluff lint dbt_project/models (dbt templater, dialect duckdb)"
# The dbt templater compiles against a throw-away DuckDB file, so lint never touches a warehouse.
LINT_DIR=$(mktemp -d)
trap 'rm -rf "$LINT_DIR"' EXIT
(cd dbt_project && REPLICA_LEDGER_DUCKDB="$LINT_DIR/lint.duckdb" DBT_SEND_ANONYMOUS_USAGE_STATS=false \
  "$VENV/bin/sqlfluff" lint models --nocolor --processes 2)

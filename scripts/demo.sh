#!/usr/bin/env bash
# make demo: run replica_ledger_daily over the demo month (October 2026) through Airflow,
# then print the breaches, the gaps and the month's bill per API.
set -euo pipefail
source "$(dirname "$0")/airflow_env.sh" "${AIRFLOW:-3}"
cd "$REPO_ROOT"
FROM=${FROM:-2026-10-01}
TO=${TO:-2026-10-31}
# The demo month is in the past; a live deployment only alerts for the last 2 days. The
# demo widens that window so its manual runs show what Slack would receive (a backfill
# of the same days stays silent whatever this says).
export REPLICA_LEDGER_ALERT_MAX_AGE_DAYS=${REPLICA_LEDGER_ALERT_MAX_AGE_DAYS:-36500}
export REPLICA_LEDGER_RETRIES=${REPLICA_LEDGER_RETRIES:-0}
# Each demo day builds its models only; the data tests run once over the whole month, in
# the month close before anything is billed (pipeline.build_billing), so no bill rests on
# untested rows. A production day keeps the default (tests every day).
export REPLICA_LEDGER_DBT_DAILY_TESTS=${REPLICA_LEDGER_DBT_DAILY_TESTS:-false}
# The demo month's Kubernetes audit log (docs/audit-log.md): who made the changes the
# snapshots show; `make report` prints who crossed each limit.
export REPLICA_LEDGER_AUDIT_LOG=${REPLICA_LEDGER_AUDIT_LOG:-$REPO_ROOT/demo/audit_log.jsonl}
# The same defaults as Settings (include/replica_ledger/settings.py): under REPLICA_LEDGER_LOCAL_DIR.
LOCAL_DIR=${REPLICA_LEDGER_LOCAL_DIR:-$REPO_ROOT/.local}
DUCKDB=${REPLICA_LEDGER_DUCKDB:-$LOCAL_DIR/warehouse.duckdb}
OUTBOX=${REPLICA_LEDGER_SLACK_OUTBOX:-$LOCAL_DIR/outbox}
STATEMENTS=${REPLICA_LEDGER_STATEMENTS_DIR:-$LOCAL_DIR/statements}
LOG="$LOCAL_DIR/demo-airflow$AIRFLOW_MAJOR.log"
mkdir -p "$LOCAL_DIR"

echo "== replica-ledger demo on Airflow $(airflow version 2>/dev/null | tail -1), days $FROM..$TO"
bash scripts/airflow_init.sh "$AIRFLOW_MAJOR"
echo "== running the DAG with dag.test() for each day (full Airflow log: $LOG)"
python scripts/run_days.py "$FROM" "$TO" --dags-folder "$AIRFLOW__CORE__DAGS_FOLDER" 2>&1 | tee "$LOG" | grep --line-buffered '^\[replica-ledger\]' || {
  echo "demo failed; see $LOG" >&2; exit 1; }
# The DAG writes the docs on a month-end day; a range ending elsewhere writes them here.
if [ "$(date -u -d "$TO + 1 day" +%d)" != 01 ]; then python -m replica_ledger.docs --quiet; fi
python -m replica_ledger.report
echo "== generated admission limits of $TO (make policies; docs/policies.md):"
python -m replica_ledger.policies --show --day "$TO" | grep -E '^(payments|orders)/'
cat <<MSG

Where things are:
  DuckDB warehouse : $DUCKDB   (try: $VENV/bin/python -c "import duckdb; print(duckdb.connect('$DUCKDB').sql('from mart_monthly_billing'))")
  Slack outbox     : $OUTBOX   ($(ls "$OUTBOX" 2>/dev/null | grep -c '\.txt$' || true) message(s); read the .txt files)
  Statements       : $STATEMENTS/${FROM:0:7}   (one folder per team: <team>/v<N>/statement.html, .csv, .json)
  dbt docs         : ${REPLICA_LEDGER_DBT_DOCS_DIR:-$LOCAL_DIR/dbt_docs}/index.html
  Policies         : ${REPLICA_LEDGER_POLICY_DIR:-$LOCAL_DIR/policies}/dt=$TO/   (admission policies, ConfigMaps, ClusterRules)
  Airflow log      : $LOG
MSG

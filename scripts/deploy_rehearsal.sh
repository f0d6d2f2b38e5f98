#!/usr/bin/env bash
# make deploy-rehearsal: the Composer deploy plan's bucket, synced through fake-gcs-server into
# a folder laid out as /home/airflow/gcs, run by Airflow for two days on the emulators of
# `make demo-gcp`, and compared with demo-gcp's same days (tooling/deploy_rehearsal.py).
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL_DIR=${REPLICA_LEDGER_LOCAL_DIR:-$REPO_ROOT/.local}
# The rehearsal makes its own metadata DB under .local/deploy-rehearsal/airflow.
export AIRFLOW_HOME=${AIRFLOW_HOME:-$LOCAL_DIR/deploy-rehearsal/airflow}
source "$REPO_ROOT/scripts/airflow_env.sh" "${AIRFLOW:-${AIRFLOW_MAJOR:-3}}"
cd "$REPO_ROOT"
echo "== replica-ledger deploy rehearsal on Airflow $(python -c 'import airflow; print(airflow.__version__)')"
# The driver starts every emulator and stops them on its way out; exec keeps one process to signal.
exec python -m tooling.deploy_rehearsal "$@"

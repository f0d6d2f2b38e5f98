#!/usr/bin/env bash
# make demo-gcp: the production wiring (REPLICA_LEDGER_ENV=gcp: GCS archive, BigQuery, Slack)
# over the demo month, on local emulators (tooling/demo_gcp.py says what runs where).
# Its own Airflow home, so it never mixes its runs with `make demo`'s.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL_DIR=${REPLICA_LEDGER_LOCAL_DIR:-$REPO_ROOT/.local}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$LOCAL_DIR/airflow${AIRFLOW:-${AIRFLOW_MAJOR:-3}}-gcp}
source "$REPO_ROOT/scripts/airflow_env.sh" "${AIRFLOW:-${AIRFLOW_MAJOR:-3}}"
cd "$REPO_ROOT"
echo "== replica-ledger demo-gcp on Airflow $(airflow version 2>/dev/null | tail -1): BigQuery, GCS, Firestore, Kubernetes and Slack on 127.0.0.1"
# --deployed runs the bundle on a metadata DB of its own, set up from the deploy plan.
case " $* " in
  *" --deployed "*) ;;
  *) bash scripts/airflow_init.sh "$AIRFLOW_MAJOR" ;;
esac
# The driver starts every emulator and stops them on its way out (exit, error, Ctrl-C or
# SIGTERM/SIGHUP); exec keeps one process to signal.
exec python -m tooling.demo_gcp "$@"

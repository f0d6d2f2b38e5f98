#!/usr/bin/env bash
# make test: lint once, then the whole suite on Airflow 3.x and on Airflow 2.11.
#   - real Airflow runs (dag.test over the demo month, `make backfill` twice per version),
#   - real dbt builds on DuckDB (all data tests and unit tests),
#   - real HTTP servers on 127.0.0.1 for the Kubernetes API, Slack, GCS and BigQuery,
#   - the dbt docs lineage in a real headless Chromium (Debian's), inside the Airflow UI.
# PYTEST_ARGS narrows a run (e.g. PYTEST_ARGS="tests/dags -x"); AIRFLOW_VERSIONS="3" runs one version.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO_ROOT"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false DO_NOT_TRACK=1 PYTHONDONTWRITEBYTECODE=1
RESULTS="$REPO_ROOT/.local/test-results"
mkdir -p "$RESULTS"
started=$(date +%s)

bash scripts/install_chromium.sh
bash scripts/lint.sh .venv/af3

VERSIONS=${AIRFLOW_VERSIONS:-3 2}
FIRST_VERSION=${VERSIONS%% *}
for version in $VERSIONS; do
  echo "== pytest on Airflow $(".venv/af$version/bin/python" -c 'import airflow; print(airflow.__version__)')"
  # The Composer resolver check (pip against PyPI, ~3 min) does not depend on the local
  # Airflow: run it with the first version only.
  [ "$version" = "$FIRST_VERSION" ] || export REPLICA_LEDGER_SKIP_NETWORK_TESTS=1
  version_started=$(date +%s)
  # shellcheck disable=SC2086
  ".venv/af$version/bin/python" -m pytest ${PYTEST_ARGS:-tests} -q -p no:cacheprovider -rs --durations=15 \
    --junitxml="$RESULTS/airflow$version.xml"
  echo "== Airflow $version suite: $(( $(date +%s) - version_started ))s"
done
echo "== make test: $(( $(date +%s) - started ))s in all"

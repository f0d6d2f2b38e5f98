#!/usr/bin/env bash
# make test: lint once, beside two pytest runs at the same time:
#   - Airflow 3.x: the whole suite but the few modules below, on two xdist workers (one test
#     module per worker at a time, the modules reading the demo month together: tests/conftest.py);
#   - Airflow 2.11: what touches Airflow (`-m airflow`: DAG integrity, the dag.test month, the
#     backfill commands, the UI plugin, the task glue), plus a few version-independent modules
#     (`-m second_run`, tests/conftest.py SECOND_RUN) that balance the two runs.
# Everything is real: Airflow runs, dbt builds on DuckDB and on the BigQuery emulator,
# fake-gcs-server, the Firestore emulator, HTTP servers on 127.0.0.1 for Kubernetes and Slack,
# the dbt docs lineage in headless Chromium.
# PYTEST_ARGS narrows both runs (e.g. PYTEST_ARGS="tests/dags -x"); AIRFLOW_VERSIONS="3" runs one
# version (it then runs the whole suite); PYTEST_WORKERS sets the xdist workers.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO_ROOT"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false DO_NOT_TRACK=1 PYTHONDONTWRITEBYTECODE=1
RESULTS="$REPO_ROOT/.local/test-results"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
started=$(date +%s)

bash scripts/install_chromium.sh
bash scripts/install_promtool.sh
# The same runs differ by a tenth and more from one hour to the next on a shared machine:
# this figure, before and after, says how fast the machine was (bench/machine_speed.py).
.venv/af3/bin/python -m bench.machine_speed
# Lint runs beside the suites (its output is printed at the end, and it fails the run too).
bash scripts/lint.sh .venv/af3 >"$RESULTS/lint.log" 2>&1 &
lint_pid=$!

VERSIONS=${AIRFLOW_VERSIONS:-3 2}
FIRST_VERSION=${VERSIONS%% *}

suite() {  # suite VERSION: one pytest run, its output in $RESULTS/airflowVERSION.log
  local version=$1 scope=()
  if [ "$version" = "$FIRST_VERSION" ]; then
    scope=(-n "${PYTEST_WORKERS:-2}" --no-loadscope-reorder)
    [ "$VERSIONS" = "$FIRST_VERSION" ] || scope+=(-m "not second_run")
  else
    scope=(-m "airflow or second_run")
  fi
  local began status=0
  began=$(date +%s)
  # shellcheck disable=SC2086
  ".venv/af$version/bin/python" -m pytest ${PYTEST_ARGS:-tests} "${scope[@]}" \
    -q -p no:cacheprovider -rs --durations=10 --junitxml="$RESULTS/airflow$version.xml" \
    >"$RESULTS/airflow$version.log" 2>&1 || status=$?
  echo "== Airflow $version suite: $(($(date +%s) - began))s, exit $status" >>"$RESULTS/airflow$version.log"
  return $status
}

declare -A pids
for version in $VERSIONS; do
  echo "== pytest on Airflow $(".venv/af$version/bin/python" -c 'import airflow; print(airflow.__version__)') (log: .local/test-results/airflow$version.log)"
  suite "$version" &
  pids[$version]=$!
done

failed=0
for version in $VERSIONS; do
  wait "${pids[$version]}" || failed=1
done
lint_status=0
wait "$lint_pid" || lint_status=$?
echo "======================== lint ========================"
cat "$RESULTS/lint.log"
echo "== lint: exit $lint_status"
[ "$lint_status" = 0 ] || failed=1
# The logs one after the other (each ends with pytest's summary and its ten slowest tests).
for version in $VERSIONS; do
  echo
  echo "======================== Airflow $version ========================"
  cat "$RESULTS/airflow$version.log"
done
.venv/af3/bin/python -m bench.machine_speed
# The CPU the run's processes used (user, system), beside its wall time: a run slower for the
# same CPU waited on a busier machine, one with more CPU did more work.
times >"$RESULTS/times.txt"  # in this shell: a $(times) subshell has no children of its own
echo "== CPU time of every process the run waited for (user, system): $(tail -1 "$RESULTS/times.txt")"
echo "== make test: $(($(date +%s) - started))s in all"
exit $failed

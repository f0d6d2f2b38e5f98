#!/usr/bin/env bash
# dbt Labs' dbt-project-evaluator over a scratch copy of dbt_project/ (DuckDB), never as a
# dependency of the project itself:
#   bash scripts/evaluate_dbt_project.sh PACKAGES_DIR
# PACKAGES_DIR holds checkouts of dbt-labs/dbt-project-evaluator (as dbt_project_evaluator)
# and dbt-labs/dbt-utils (as dbt_utils): `dbt deps` needs the dbt hub, so they are placed
# by hand. Our exceptions go in the package's own way: its exceptions seed
# (dbt_project/evaluator/dbt_project_evaluator_exceptions.csv, each row with its reason),
# with the package's empty seed of that name disabled.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACKAGES=${1:?usage: evaluate_dbt_project.sh PACKAGES_DIR (with dbt_project_evaluator/ and dbt_utils/)}
PACKAGES=$(cd "$PACKAGES" && pwd)
VENV=${VENV:-$REPO_ROOT/.venv/af3}
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
cp -r "$REPO_ROOT/dbt_project" "$SCRATCH/project"
cd "$SCRATCH/project"
rm -rf target logs dbt_packages && mkdir -p dbt_packages seeds
cp -r "$PACKAGES/dbt_project_evaluator" "$PACKAGES/dbt_utils" dbt_packages/
cp evaluator/dbt_project_evaluator_exceptions.csv seeds/
printf 'packages:\n  - local: dbt_packages/dbt_utils\n  - local: dbt_packages/dbt_project_evaluator\n' > packages.yml
"$VENV/bin/python" - <<'PY'
import yaml

with open("dbt_project.yml") as file:
    project = yaml.safe_load(file)
project.setdefault("seeds", {})["dbt_project_evaluator"] = {"dbt_project_evaluator_exceptions": {"+enabled": False}}
with open("dbt_project.yml", "w") as file:
    yaml.safe_dump(project, file, sort_keys=False)
PY
REPLICA_LEDGER_DUCKDB="$SCRATCH/evaluator.duckdb" DBT_SEND_ANONYMOUS_USAGE_STATS=false \
  "$VENV/bin/dbt" build --select package:dbt_project_evaluator dbt_project_evaluator_exceptions \
  --profiles-dir . --target duckdb --target-path "$SCRATCH/target" --log-path "$SCRATCH/logs"

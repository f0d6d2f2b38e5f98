"""Every Airflow touchpoint of replica-ledger lives in this package.

- `compat`: the imports that differ between Airflow 2.11 and 3.x (one place, so nothing else
  sniffs versions);
- `context`: a task context turned into a plain `RunInfo` (the day, backfill or not, current
  day or not, run id, log URL);
- `tasks`: the task bodies, which turn the context into a `RunInfo` once and call the plain
  steps of `replica_ledger.pipeline`, `replica_ledger.alerts` and `replica_ledger.docs`;
- `dag_local`: `build_daily(settings)`, every task group of the day (called inside the DAG
  file's `with DAG(...)`); `dag_gcp`: the production snapshot group (collector pods), which
  `build_daily` uses instead of the local one when `Settings.gcp` is set.

Everything below this package takes plain data and never imports Airflow's task context.
Importing `replica_ledger.airflow` itself is free; `compat` imports Airflow.
"""

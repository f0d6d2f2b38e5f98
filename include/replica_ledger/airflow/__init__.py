"""Every Airflow touchpoint of replica-ledger lives in this package.

- `compat`: the imports that differ between Airflow 2.11 and 3.x (one place, so nothing else
  sniffs versions);
- `context`: a task context turned into a plain `RunInfo` (the day, backfill or not, current
  day or not, run id, log URL);
- `tasks`: the task bodies, which call the plain steps of `replica_ledger.pipeline` and
  `replica_ledger.alerts` with plain values;
- `dag_local` / `dag_gcp`: the task builders of the two wirings.

Everything below this package takes plain data and never imports Airflow's task context.
Importing `replica_ledger.airflow` itself is free; `compat` imports Airflow.
"""

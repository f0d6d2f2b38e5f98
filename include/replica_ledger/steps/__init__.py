"""The steps of the daily pipeline, one module each, in the order a run takes them:
`snapshot` (the archive holds the day), `load` (raw tables), `build` (dbt for the window,
the run summary, `make rebuild`), `billing` (month close and restatement).

They speak to the warehouse only through `replica_ledger.warehouse`; `replica_ledger.pipeline`
gathers their public names for the DAG's tasks.
"""

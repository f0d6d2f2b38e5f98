"""The production (Cloud Composer 3 + GCS + BigQuery) path of replica_ledger_daily.

Chosen by REPLICA_LEDGER_ENV=gcp, whose settings are ``replica_ledger.settings.Settings.gcp``
(read from the environment only, validated). Its module ``bigquery`` is the raw load's
BigQuery sink (NDJSON temp files, one load job per table into ``table$YYYYMMDD``,
WRITE_TRUNCATE) and the queries.

The Airflow side (the snapshot group's collector pods) is ``replica_ledger.airflow.dag_gcp``;
the load is the same task as locally (``pipeline.load_day``), reading the archive on GCS
through ``replica_ledger.raw.stores.GcsStore``.
"""

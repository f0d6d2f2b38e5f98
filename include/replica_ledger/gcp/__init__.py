"""The production (Cloud Composer 3 + GCS + BigQuery) path of replica_ledger_daily.

Chosen by REPLICA_LEDGER_ENV=gcp. Modules, lightest first:

- ``settings``: GcpSettings, read from the environment only (no DB, no network);
- ``decide``: current day or past day: capture live, or only read the archive;
- ``raw_rows``: archive object(s) of a day on GCS -> NDJSON rows per raw table on GCS;
- ``bigquery``: load-job configurations (``table$YYYYMMDD``, WRITE_TRUNCATE) and queries;
- ``dag``: the Airflow task builders; the only module importing the Google and Kubernetes
  providers, and only imported by the DAG file under the gcp branch.
"""

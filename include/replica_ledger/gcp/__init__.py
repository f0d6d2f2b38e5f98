"""The production (Cloud Composer 3 + GCS + BigQuery) path of replica_ledger_daily.

Chosen by REPLICA_LEDGER_ENV=gcp, whose settings are ``replica_ledger.settings.Settings.gcp``
(read from the environment only, validated). Modules, lightest first:

- ``bigquery``: the raw load's BigQuery sink (NDJSON temp files, one load job per table into
  ``table$YYYYMMDD``, WRITE_TRUNCATE) and queries;
- ``dag``: the Airflow task builders of the snapshot group (collector pods for the current
  day's run, ``RunInfo.is_current_day``; a past day only reads the archive); the only module
  importing the Google and Kubernetes providers, and only imported by the DAG file under
  the gcp branch. The load is the same task as locally (``pipeline.load_day``), reading
  the archive on GCS through ``replica_ledger.raw.stores.GcsStore``.
"""

"""The day's raw load: archive layout, object stores, the row builder and its sinks.

Modules, lightest first:

- ``layout``: the archive layout (contract §1.1) as one object: folder per day, which
  file of a cluster wins, what a cluster's name is, which days and clusters exist;
- ``stores``: where the archive lives: a local folder or a GCS bucket, behind one protocol;
- ``day``: the one function that turns a day of the archive into raw rows, streamed to a sink;
- ``ndjson``: newline-delimited JSON files of raw rows (the BigQuery load jobs' input).

The DuckDB sink lives in ``replica_ledger.warehouse``, the BigQuery one in
``replica_ledger.gcp.bigquery``; ``replica_ledger.pipeline.load_day`` picks one.
"""

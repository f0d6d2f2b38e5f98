"""The day's raw load: archive layout, object stores, the row builder and its sinks.

Modules, lightest first:

- ``schema``: the raw tables' columns, their order and types (both warehouses, the files);
- ``layout``: the archive layout (contract §1.1) as one object: folder per day, which
  file of a cluster wins, what a cluster's name is, which days and clusters exist;
- ``stores``: where the archive lives: a local folder or a GCS bucket, behind one protocol;
- ``day``: the one function that turns a day of the archive into raw rows, streamed to a sink;
- ``record``: the load record (what a day's load read, so a later run knows it changed);
- ``ndjson``: newline-delimited JSON files of raw rows (the sinks' load input).

The sinks are the warehouse's (``replica_ledger.warehouse.duckdb``, ``.bigquery``), chosen
by ``replica_ledger.warehouse.open_warehouse``.
"""

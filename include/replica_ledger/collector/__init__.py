"""Cluster snapshot collector: `python -m replica_ledger.collector --cluster NAME --output DIR_OR_GS_URL`.

Lists apps/v1 Deployments and autoscaling/v2 HPAs across all namespaces and writes the
archive files of CONTRACT.md 1.1. See __main__.py for the command line and settings.py
for the REPLICA_LEDGER_COLLECTOR_* environment variables. Importing this package is
cheap: the Kubernetes and GCS clients load only when a snapshot is collected.
"""

"""The Kubernetes audit log as a second source: who wrote a Deployment's replicas or an HPA's max.

`entries` reads one line of either input format (Cloud Logging LogEntry, audit.k8s.io
Event), `writes` turns it into a normalized write row (or a skip / quarantine reason), and
`log` reads a day of the local audit log (REPLICA_LEDGER_AUDIT_LOG). See docs/audit-log.md.
"""

"""Generated policies (contract section 8): the approved limits as admission policies, their
ConfigMaps and GKE Managed Prometheus rules, one folder per day (docs/policies.md).

`objects` builds the Kubernetes objects, `folder` their files and manifest, `generate` the
step (warehouse in, folder out), `apply` the production pod that applies a day's folder.
"""

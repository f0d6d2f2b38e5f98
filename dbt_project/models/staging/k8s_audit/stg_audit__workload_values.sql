-- The audited values of an HPA's max or a Deployment's replicas, one row per delivery of an
-- audit entry (a log sink may deliver one twice, on two days: both rows are here). No
-- cross-day deduplication, so that a reader filtering on snapshot_date reads only those
-- day partitions (BigQuery prunes them); the intra-day peaks take maxima, where a repeated
-- value changes nothing, and dedupe within their window. stg_audit__workload_writes keeps
-- each entry once, for the edits.
select
    audit_id,
    snapshot_date,
    changed_at,
    cluster,
    namespace,
    deployment,
    field,
    new_value as value,
    principal,
    tool,
    is_controller
from {{ source('k8s_audit', 'k8s_audit_events') }}
where new_value is not null

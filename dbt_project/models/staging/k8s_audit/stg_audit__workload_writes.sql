-- One row per delivery of an audited write to a Deployment or HPA: an entry a log sink
-- delivered on two days is here twice. No cross-day deduplication, so that a reader
-- filtering on snapshot_date reads only those day partitions (BigQuery prunes them);
-- fct_limit_edits keeps each entry once, on its first day.
select
    audit_id,
    snapshot_date,
    changed_at,
    cluster,
    namespace,
    object_kind,
    object_name,
    deployment,
    method,
    verb,
    subresource,
    principal,
    user_agent,
    tool,
    is_controller,
    field,
    new_value
from {{ source('k8s_audit', 'k8s_audit_events') }}

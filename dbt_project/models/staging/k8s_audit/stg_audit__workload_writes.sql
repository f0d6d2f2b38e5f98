-- One row per delivery of an audited write to a Deployment or HPA: an entry a log sink
-- delivered on two days is here twice. No cross-day deduplication, so that a reader
-- filtering on snapshot_date reads only those day partitions (BigQuery prunes them); each
-- reader keeps an entry once its own way (fct_limit_edits, int_audit_values__with_limits)
-- or takes maxima, which a repeat does not change (int_audit_values__monthly_peaks).
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
    new_value,
    admission_failure
from {{ source('k8s_audit', 'k8s_audit_events') }}

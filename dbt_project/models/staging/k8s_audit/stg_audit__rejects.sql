select
    snapshot_date,
    cluster,
    source,
    line_number,
    changed_at,
    principal,
    method,
    reason,
    entry_json
from {{ source('k8s_audit', 'k8s_audit_rejects') }}

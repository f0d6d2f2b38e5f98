-- One row per audited write to a Deployment or HPA. An entry delivered twice (a log sink
-- may repeat one across its day folders) is kept once, on its first day.
with numbered as (
    select
        *,
        row_number() over (partition by audit_id order by snapshot_date, changed_at) as delivery_number
    from {{ source('k8s_audit', 'k8s_audit_events') }}
)

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
from numbered
where delivery_number = 1

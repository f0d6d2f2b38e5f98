-- Who changed a limit (contract §6): one row per change of an HPA's spec.maxReplicas or a
-- Deployment's spec.replicas made by a person or a pipeline. Controllers' writes (the HPA
-- scaling the Deployment) are no edits, but they are part of the value timeline: an edit's
-- from_value is the value just before it, from the previous audited write or the last
-- snapshot, whichever is later. A write that leaves the value as it was is no change.
with writes as (
    select * from {{ ref('stg_audit__workload_writes') }}
    where new_value is not null
),

edited_fields as (
    select distinct
        cluster,
        namespace,
        deployment,
        field
    from writes
),

snapshot_values as (
    select
        hpas.captured_at as observed_at,
        hpas.cluster,
        hpas.namespace,
        hpas.target_name as deployment,
        'max_replicas' as field,
        hpas.max_replicas as value
    from {{ ref('stg_k8s__hpas') }} as hpas
    where hpas.target_kind = 'Deployment' and hpas.max_replicas is not null
    union all
    select
        deployments.captured_at as observed_at,
        deployments.cluster,
        deployments.namespace,
        deployments.deployment,
        'replicas' as field,
        deployments.spec_replicas as value
    from {{ ref('stg_k8s__deployments') }} as deployments
    where deployments.spec_replicas is not null
),

timeline as (
    select
        writes.changed_at as observed_at,
        writes.cluster,
        writes.namespace,
        writes.deployment,
        writes.field,
        writes.new_value as value,
        writes.audit_id
    from writes
    union all
    -- Only the snapshots of fields someone wrote: the timeline stays as small as the log.
    select
        snapshot_values.observed_at,
        snapshot_values.cluster,
        snapshot_values.namespace,
        snapshot_values.deployment,
        snapshot_values.field,
        snapshot_values.value,
        cast(null as {{ ledger_type_string() }}) as audit_id
    from snapshot_values
    inner join edited_fields
        on
            snapshot_values.cluster = edited_fields.cluster
            and snapshot_values.namespace = edited_fields.namespace
            and snapshot_values.deployment = edited_fields.deployment
            and snapshot_values.field = edited_fields.field
),

with_previous as (
    select
        audit_id,
        value,
        -- A snapshot taken at the same instant as a write saw the value before it.
        lag(value) over (
            partition by cluster, namespace, deployment, field
            order by observed_at, case when audit_id is null then 0 else 1 end, audit_id
        ) as from_value
    from timeline
),

edits as (
    select
        writes.audit_id,
        writes.changed_at,
        writes.cluster,
        writes.namespace,
        writes.deployment,
        writes.object_kind,
        writes.object_name,
        writes.field,
        with_previous.from_value,
        writes.new_value as to_value,
        writes.principal,
        writes.user_agent,
        writes.tool
    from writes
    inner join with_previous on writes.audit_id = with_previous.audit_id
    where
        not writes.is_controller
        and (with_previous.from_value is null or with_previous.from_value != writes.new_value)
)

select
    edits.audit_id,
    edits.changed_at,
    edits.cluster,
    edits.namespace,
    edits.deployment,
    edits.object_kind,
    edits.object_name,
    edits.field,
    edits.from_value,
    edits.to_value,
    edits.principal,
    edits.user_agent,
    edits.tool,
    limits.max_replicas as approved_max_replicas,
    limits.change_id as limit_change_id
from edits
left join {{ ref('int_replica_limits__versioned') }} as limits
    on
        edits.namespace = limits.namespace
        and edits.deployment = limits.deployment
        and edits.changed_at >= limits.valid_from
        and (limits.valid_to is null or edits.changed_at < limits.valid_to)

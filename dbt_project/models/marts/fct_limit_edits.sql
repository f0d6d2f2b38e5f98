{{ config(ledger_window_config(require_partition_filter=false)) }}
{{ ledger_replace_table_without('snapshot_date') }}

-- Who changed a limit (contract §6): one row per change of an HPA's spec.maxReplicas or a
-- Deployment's spec.replicas made by a person or a pipeline. Controllers' writes (the HPA
-- scaling the Deployment) are no edits, but they are part of the value timeline: an edit's
-- from_value is the value just before it, from the previous audited write or the last
-- snapshot, whichever is later, if that was seen at most value_memory_days before the
-- edit's day (older, the value is unknown: null). A write that leaves the value as it was
-- is no change.
-- Like the per-day facts, a run rebuilds the edits of its window [D - L, D] (by the day the
-- entry was loaded under, snapshot_date). It reads the days before the window that the
-- memory can reach, not the whole history: 2 days more than the memory, since a snapshot
-- is filed under the day before it was taken and an entry may be filed under the day after
-- it happened. So a full rebuild gives the same rows as the daily runs. Its first build
-- (or one after a full refresh) reads the whole history.
{%- set value_memory_days = 7 %}
{%- set reach_back_days = value_memory_days + 2 %}
with deliveries as (
    select
        *,
        -- An entry delivered twice (a log sink may repeat one across its day folders) is
        -- kept once, on its first day.
        row_number() over (partition by audit_id order by snapshot_date, changed_at) as delivery_number
    from {{ ref('stg_audit__workload_writes') }}
    where {{ ledger_incremental_window_filter('snapshot_date', reach_back_days=reach_back_days) }}
),

writes as (
    select * from deliveries
    where delivery_number = 1 and new_value is not null
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
    where
        hpas.target_kind = 'Deployment' and hpas.max_replicas is not null
        and {{ ledger_incremental_window_filter('hpas.snapshot_date', reach_back_days=reach_back_days) }}
    union all
    select
        deployments.captured_at as observed_at,
        deployments.cluster,
        deployments.namespace,
        deployments.deployment,
        'replicas' as field,
        deployments.spec_replicas as value
    from {{ ref('stg_k8s__deployments') }} as deployments
    where
        deployments.spec_replicas is not null
        and {{ ledger_incremental_window_filter('deployments.snapshot_date', reach_back_days=reach_back_days) }}
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
        observed_at,
        value,
        -- A snapshot taken at the same instant as a write saw the value before it.
        lag(value) over value_order as previous_value,
        lag(observed_at) over value_order as previous_observed_at
    from timeline
    window value_order as (
        partition by cluster, namespace, deployment, field
        order by observed_at, case when audit_id is null then 0 else 1 end, audit_id
    )
),

remembered as (
    select
        audit_id,
        case
            when previous_observed_at >= {{ ledger_day_start_ts(ledger_date_add(
                'cast(observed_at as date)', -value_memory_days)) }}
                then previous_value
        end as from_value
    from with_previous
    where audit_id is not null
),

edits as (
    select
        writes.audit_id,
        writes.snapshot_date,
        writes.changed_at,
        writes.cluster,
        writes.namespace,
        writes.deployment,
        writes.object_kind,
        writes.object_name,
        writes.field,
        remembered.from_value,
        writes.new_value as to_value,
        writes.principal,
        writes.user_agent,
        writes.tool,
        writes.admission_failure
    from writes
    inner join remembered on writes.audit_id = remembered.audit_id
    where
        not writes.is_controller
        and (remembered.from_value is null or remembered.from_value != writes.new_value)
        -- The days before the window only give the values before its edits.
        and {{ ledger_incremental_window_filter('writes.snapshot_date') }}
)

select
    edits.audit_id,
    edits.snapshot_date,
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
    edits.admission_failure,
    limits.max_replicas as approved_max_replicas,
    limits.change_id as limit_change_id
from edits
left join {{ ref('int_replica_limits__versioned') }} as limits
    on {{ ledger_limit_in_force('limits', 'edits', 'edits.changed_at') }}

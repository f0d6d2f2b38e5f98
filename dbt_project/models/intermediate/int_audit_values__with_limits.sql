-- Every audited value of an HPA's max or a Deployment's replicas in the run window (the
-- run's day and the episode lookback before it; every day on a full rebuild), the
-- controllers' own scale writes included: they do not name who changed a limit, but the
-- replicas they set were reached. Each value is judged against the approved version in
-- force at the moment of the write (point in time, like a snapshot at its captured_at),
-- with the same deploy grace as the snapshots.
with writes as (
    select * from {{ ref('stg_audit__workload_writes') }}
    where {{ ledger_window_filter('snapshot_date') }} and new_value is not null
),

limits as (
    select * from {{ ref('int_replica_limits__versioned') }}
),

grace as (
    select * from {{ ref('int_replica_limits__grace') }}
)

select
    writes.audit_id,
    writes.snapshot_date,
    writes.changed_at,
    writes.cluster,
    writes.namespace,
    writes.deployment,
    writes.field,
    writes.new_value as value,
    writes.principal,
    writes.tool,
    writes.is_controller,
    limits.max_replicas as approved_max_replicas,
    limits.cpu,
    limits.memory_gb,
    limits.change_id as limit_change_id,
    coalesce(
        limits.max_replicas is not null
        and writes.new_value > limits.max_replicas
        and not {{ ledger_in_deploy_grace('grace', 'writes.new_value', 'writes.changed_at') }},
        false
    ) as is_over_limit
from writes
left join limits
    on
        writes.namespace = limits.namespace
        and writes.deployment = limits.deployment
        and limits.valid_from <= writes.changed_at
        and (limits.valid_to is null or writes.changed_at < limits.valid_to)
left join grace
    on limits.change_id = grace.change_id

-- Every audited value of an HPA's max or a Deployment's replicas written during the run
-- window (the run's day and the lookback before it; every day on a full rebuild), the
-- controllers' own scale writes included: they do not name who changed a limit, but the
-- replicas they set were reached. A value belongs to the UTC day it was written (a late or
-- repeated delivery in a later day folder counts for the day of the write, once). Each
-- value is judged against the approved version in force at the moment of the write (point
-- in time, like a snapshot at its captured_at), with the same deploy grace as the snapshots.
with deliveries as (
    -- Delivered on a window day (the partitions read) and written on one: a write is
    -- delivered on or after the day it was made.
    select
        *,
        new_value as value,
        cast(changed_at as date) as written_on,
        row_number() over (partition by audit_id order by snapshot_date) as delivery_number
    from {{ ref('stg_audit__workload_writes') }}
    where
        new_value is not null
        and {{ ledger_window_filter('snapshot_date') }}
        and {{ ledger_window_filter('cast(changed_at as date)') }}
),

writes as (
    select * from deliveries
    where delivery_number = 1
),

limits as (
    select * from {{ ref('int_replica_limits__versioned') }}
),

grace as (
    select * from {{ ref('int_replica_limits__grace') }}
)

select
    writes.audit_id,
    writes.written_on as snapshot_date,
    writes.changed_at,
    writes.cluster,
    writes.namespace,
    writes.deployment,
    writes.field,
    writes.value,
    writes.principal,
    writes.tool,
    writes.is_controller,
    limits.max_replicas as approved_max_replicas,
    limits.cpu,
    limits.memory_gb,
    limits.change_id as limit_change_id,
    coalesce(
        limits.max_replicas is not null
        and writes.value > limits.max_replicas
        and not {{ ledger_in_deploy_grace('grace', 'writes.value', 'writes.changed_at') }},
        false
    ) as is_over_limit
from writes
left join limits
    on {{ ledger_limit_in_force('limits', 'writes', 'writes.changed_at') }}
left join grace
    on limits.change_id = grace.change_id

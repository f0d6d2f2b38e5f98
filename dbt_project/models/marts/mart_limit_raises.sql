-- Every PED change that raised an API's approved max (contract §3 "Billing"): the version it
-- replaced, the old and the new max, and the monthly charge of each, priced with the same
-- charge macro and rates as the bill (the rates in force on the day PED approved it). The
-- platform route's notice of a raise reads this model (alerts/raises.py); Python only
-- writes its amounts down. A version that follows a delete (a gap between two versions)
-- is a new registration, not a raise.
with versions as (
    select
        *,
        lag(change_id) over (partition by namespace, deployment order by valid_from, change_number)
            as previous_change_id,
        lag(max_replicas) over (partition by namespace, deployment order by valid_from, change_number)
            as previous_max_replicas,
        lag(cpu) over (partition by namespace, deployment order by valid_from, change_number) as previous_cpu,
        lag(memory_gb) over (partition by namespace, deployment order by valid_from, change_number)
            as previous_memory_gb,
        lag(valid_to) over (partition by namespace, deployment order by valid_from, change_number)
            as previous_valid_to
    from {{ ref('int_replica_limits__versioned') }}
),

raises as (
    select * from versions
    where
        previous_change_id is not null
        and previous_valid_to = valid_from
        and max_replicas > previous_max_replicas
),

rates as (
    {{ ledger_billing_rates_in_force() }}
),

priced as (
    select
        raises.change_id,
        raises.namespace,
        raises.deployment,
        raises.team,
        raises.valid_from as approved_at,
        cast(raises.valid_from as date) as approved_on,
        raises.previous_change_id,
        raises.previous_max_replicas as old_max_replicas,
        raises.max_replicas as new_max_replicas,
        raises.previous_cpu as old_cpu,
        raises.previous_memory_gb as old_memory_gb,
        raises.cpu as new_cpu,
        raises.memory_gb as new_memory_gb,
        {{ ledger_monthly_charge('raises.previous_cpu', 'raises.previous_memory_gb', 'raises.previous_max_replicas') }}
            as old_monthly_charge,
        {{ ledger_monthly_charge('raises.cpu', 'raises.memory_gb', 'raises.max_replicas') }} as new_monthly_charge
    from raises
    left join rates
        on {{ ledger_rate_in_force('rates', 'cast(raises.valid_from as date)') }}
)

select
    change_id,
    namespace,
    deployment,
    team,
    approved_at,
    approved_on,
    previous_change_id,
    old_max_replicas,
    new_max_replicas,
    old_cpu,
    old_memory_gb,
    new_cpu,
    new_memory_gb,
    old_monthly_charge,
    new_monthly_charge,
    -- Both charges are money (exact cents), so the difference is exact too.
    {{ ledger_money('new_monthly_charge - old_monthly_charge') }} as added_monthly_charge
from priced

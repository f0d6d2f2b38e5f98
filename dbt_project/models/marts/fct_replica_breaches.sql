{{ config(
    materialized='incremental',
    incremental_strategy=ledger_incremental_strategy(),
    partition_by=ledger_partition_by('snapshot_date', 'day'),
    partitions=ledger_run_partitions('day'),
    cluster_by=['namespace', 'deployment'],
    require_partition_filter=ledger_require_partition_filter(),
    on_schema_change='append_new_columns',
    pre_hook="{{ ledger_clear_run_window('snapshot_date', 'day') }}",
) }}

-- One row per breach per snapshot day. An episode of (cluster, API, breach type) starts
-- on the first snapshot day showing it: the breach is new unless the cluster's previous
-- snapshot day (skipping days with no snapshot, which neither end nor start an episode)
-- showed it too.
with todays as (
    select * from {{ ref('int_breach_conditions') }}
    where {{ ledger_day_filter('snapshot_date') }}
),

earlier as (
    select * from {{ ref('int_breach_conditions') }}
    where {{ ledger_lookback_filter('snapshot_date') }}
),

snapshot_days as (
    select
        snapshot_date,
        cluster
    from {{ ref('stg_k8s__snapshot_manifest') }}
    where has_snapshot and {{ ledger_lookback_filter('snapshot_date') }}
),

run_days as (
    select distinct
        snapshot_date,
        cluster
    from todays
),

previous_snapshot as (
    select
        run_days.snapshot_date,
        run_days.cluster,
        max(snapshot_days.snapshot_date) as previous_snapshot_date
    from run_days
    inner join snapshot_days
        on
            run_days.cluster = snapshot_days.cluster
            and snapshot_days.snapshot_date < run_days.snapshot_date
    group by run_days.snapshot_date, run_days.cluster
)

select
    todays.snapshot_date,
    todays.cluster,
    todays.namespace,
    todays.deployment,
    todays.team,
    todays.breach_type,
    todays.observed_value,
    todays.approved_max_replicas,
    earlier.snapshot_date is null as is_new_episode,
    previous_snapshot.previous_snapshot_date,
    todays.cpu,
    todays.memory_gb,
    todays.limit_change_id
from todays
left join previous_snapshot
    on
        todays.snapshot_date = previous_snapshot.snapshot_date
        and todays.cluster = previous_snapshot.cluster
left join earlier
    on
        previous_snapshot.previous_snapshot_date = earlier.snapshot_date
        and todays.cluster = earlier.cluster
        and todays.namespace = earlier.namespace
        and todays.deployment = earlier.deployment
        and todays.breach_type = earlier.breach_type

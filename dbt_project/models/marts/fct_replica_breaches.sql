{{ config(ledger_window_config()) }}

-- One row per breach per snapshot day; a run rebuilds the days of its window [D - L, D]
-- (every day on a full rebuild). An episode of (cluster, API, breach type) starts on the
-- first snapshot day showing it: the breach is new unless the cluster's previous snapshot
-- day showed it too, however far back that day is (days with no snapshot neither end nor
-- start an episode, so a gap of any length is bridged).
-- The previous snapshot day comes from the manifest (small: one row per cluster and day).
-- Whether it showed the breach: inside the window, the conditions rebuilt now; before the
-- window, the rows earlier runs stored here (only their keys are read). On the first build
-- with a run day there are no stored rows, so a breach whose previous snapshot day is
-- before the window counts as new; a full rebuild (no run day) reads every day.
{#- `dbt compile --no-introspect` (the offline BigQuery check) cannot ask whether the table
    exists; it compiles the incremental branch, the one every run but the first uses. -#}
{%- set stored_rows_exist = ledger_run_day() is not none and (is_incremental() if flags.INTROSPECT else true) %}

with window_conditions as (
    select * from {{ ref('int_breach_conditions') }}
    where {{ ledger_window_filter('snapshot_date') }}
),

breaches_before_window as (
    {%- if stored_rows_exist %}
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        breach_type
    from {{ this }}
    where {{ ledger_before_window_filter('snapshot_date') }}
    {%- else %}
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        breach_type
    from window_conditions
    where false
    {%- endif %}
),

known_breaches as (
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        breach_type
    from window_conditions
    union all
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        breach_type
    from breaches_before_window
),

snapshot_days as (
    select
        snapshot_date,
        cluster
    from {{ ref('stg_k8s__snapshot_manifest') }}
    where has_snapshot and {{ ledger_until_day_filter('snapshot_date') }}
),

breach_days as (
    select distinct
        snapshot_date,
        cluster
    from window_conditions
),

previous_snapshot as (
    select
        breach_days.snapshot_date,
        breach_days.cluster,
        max(snapshot_days.snapshot_date) as previous_snapshot_date
    from breach_days
    inner join snapshot_days
        on
            breach_days.cluster = snapshot_days.cluster
            and snapshot_days.snapshot_date < breach_days.snapshot_date
    group by breach_days.snapshot_date, breach_days.cluster
)

select
    window_conditions.snapshot_date,
    window_conditions.cluster,
    window_conditions.namespace,
    window_conditions.deployment,
    window_conditions.team,
    window_conditions.breach_type,
    window_conditions.observed_value,
    window_conditions.approved_max_replicas,
    earlier.snapshot_date is null as is_new_episode,
    previous_snapshot.previous_snapshot_date,
    window_conditions.cpu,
    window_conditions.memory_gb,
    window_conditions.limit_change_id
from window_conditions
left join previous_snapshot
    on
        window_conditions.snapshot_date = previous_snapshot.snapshot_date
        and window_conditions.cluster = previous_snapshot.cluster
left join known_breaches as earlier
    on
        previous_snapshot.previous_snapshot_date = earlier.snapshot_date
        and window_conditions.cluster = earlier.cluster
        and window_conditions.namespace = earlier.namespace
        and window_conditions.deployment = earlier.deployment
        and window_conditions.breach_type = earlier.breach_type

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

-- What the Slack alert of snapshot day D says: every breach episode that is new on D
-- (started on D), open on D (started before, and D's snapshot still shows it) or resolved
-- on D (D is the first snapshot day without it), with the excess's monthly cost priced by
-- the same charge macro as the bill. Every column is as of D (nothing known only later),
-- so a re-run of D and a full rebuild give D's rows exactly as the day's run did. The
-- alert task reads the run's day from here on either warehouse; which episodes a route
-- has already heard of is the alert_log ledger's business.
{%- set day = ledger_run_day() %}

with alert_days as (
    {%- if day is not none %}
    select {{ ledger_date_literal(day) }} as snapshot_date
    {%- else %}
    -- Full rebuild: every day the pipeline has processed.
    select distinct snapshot_date
    from {{ ref('stg_k8s__snapshot_manifest') }}
    {%- endif %}
),

episodes as (
    select * from {{ ref('fct_breach_episodes') }}
),

breaches_of_day as (
    -- The day's breach conditions: the rows fct_replica_breaches stores for the day, read
    -- from the same source so this model reaches the facts only through the episodes.
    select * from {{ ref('int_breach_conditions') }}
    where {{ ledger_day_filter('snapshot_date') }}
),

rates as (
    {{ ledger_billing_rates_in_force() }}
),

episodes_of_day as (
    -- Episodes are half-open [started_on, ended_on) in snapshot days.
    select
        alert_days.snapshot_date,
        episodes.*,
        case
            when episodes.started_on = alert_days.snapshot_date then 'new'
            when episodes.ended_on = alert_days.snapshot_date then 'resolved'
            else 'open'
        end as episode_status
    from alert_days
    inner join episodes
        on
            episodes.started_on <= alert_days.snapshot_date
            and (episodes.ended_on is null or episodes.ended_on >= alert_days.snapshot_date)
),

observed as (
    -- The day's own breach row (new, open); for an episode resolved on D, its last day
    -- seen (before D). An open episode whose cluster has no snapshot on D is not listed
    -- that day: nothing is said about a day without a snapshot.
    select
        episodes_of_day.snapshot_date,
        episodes_of_day.cluster,
        episodes_of_day.namespace,
        episodes_of_day.deployment,
        coalesce(breaches_of_day.team, episodes_of_day.team) as team,
        episodes_of_day.breach_type,
        episodes_of_day.episode_id,
        episodes_of_day.started_on as episode_started_on,
        episodes_of_day.episode_status,
        case
            when breaches_of_day.snapshot_date is not null then breaches_of_day.observed_value
            else episodes_of_day.last_observed_value
        end as observed_value,
        case
            when breaches_of_day.snapshot_date is not null then breaches_of_day.approved_max_replicas
            else episodes_of_day.last_approved_max_replicas
        end as approved_max_replicas,
        case
            when breaches_of_day.snapshot_date is not null then breaches_of_day.cpu
            else episodes_of_day.cpu
        end as cpu,
        case
            when breaches_of_day.snapshot_date is not null then breaches_of_day.memory_gb
            else episodes_of_day.memory_gb
        end as memory_gb
    from episodes_of_day
    left join breaches_of_day
        on
            episodes_of_day.snapshot_date = breaches_of_day.snapshot_date
            and episodes_of_day.cluster = breaches_of_day.cluster
            and episodes_of_day.namespace = breaches_of_day.namespace
            and episodes_of_day.deployment = breaches_of_day.deployment
            and episodes_of_day.breach_type = breaches_of_day.breach_type
    where episodes_of_day.episode_status = 'resolved' or breaches_of_day.snapshot_date is not null
)

select
    {{ ledger_fingerprint([
        'observed.snapshot_date', 'observed.cluster', 'observed.namespace',
        'observed.deployment', 'observed.breach_type', 'observed.episode_started_on'
    ]) }} as breach_alert_id,
    observed.snapshot_date,
    observed.cluster,
    observed.namespace,
    observed.deployment,
    observed.team,
    observed.breach_type,
    observed.episode_id,
    observed.episode_started_on,
    observed.episode_status,
    observed.observed_value,
    observed.approved_max_replicas,
    observed.cpu,
    observed.memory_gb,
    case
        when observed.approved_max_replicas is not null
            then greatest(observed.observed_value - observed.approved_max_replicas, 0)
    end as excess_replicas,
    -- The bill at the observed count minus the bill at the approved max: what the excess
    -- would add to the month. Null for an unregistered API (no approved max, no price).
    -- Both charges are money (exact cents), so the difference is exact too.
    {{ ledger_money(
        ledger_monthly_charge(
            'observed.cpu', 'observed.memory_gb',
            'greatest(observed.observed_value, observed.approved_max_replicas)', 'rates'
        )
        ~ ' - ' ~ ledger_monthly_charge('observed.cpu', 'observed.memory_gb', 'observed.approved_max_replicas', 'rates')
    ) }} as excess_monthly_cost
from observed
left join rates
    on {{ ledger_rate_in_force('rates', 'observed.snapshot_date') }}

-- Which breach types each daily observation shows (contract §3 "Breach types", §6).
-- Only desired replicas count: status.replicas is left out on purpose, because a rolling
-- update's surge makes it exceed spec.replicas without any limit being broken.
-- Deploy grace: a snapshot taken less than deploy_grace_hours after a PED change that
-- lowered the max, still showing no more than the old max, is a redeploy on its way, not
-- a breach (int_replica_limits__grace).
with observed as (
    select
        daily.*,
        greatest(daily.spec_replicas, coalesce(daily.hpa_desired_replicas, daily.spec_replicas))
            as desired_replicas
    from {{ ref('int_deployments__with_limits') }} as daily
),

daily as (
    select
        observed.*,
        {{ ledger_in_deploy_grace('grace', 'observed.desired_replicas', 'observed.captured_at') }}
            as desired_replicas_in_grace,
        {{ ledger_in_deploy_grace('grace', 'observed.hpa_max_replicas', 'observed.captured_at') }}
            as hpa_max_replicas_in_grace
    from observed
    left join {{ ref('int_replica_limits__grace') }} as grace
        on observed.limit_change_id = grace.change_id
),

replicas_over_limit as (
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        team,
        {{ ledger_breach_type('replicas_over_limit') }} as breach_type,
        desired_replicas as observed_value,
        approved_max_replicas,
        cpu,
        memory_gb,
        limit_change_id,
        hpa_name
    from daily
    where
        approved_max_replicas is not null
        and desired_replicas > approved_max_replicas
        and not desired_replicas_in_grace
),

hpa_max_over_limit as (
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        team,
        {{ ledger_breach_type('hpa_max_over_limit') }} as breach_type,
        hpa_max_replicas as observed_value,
        approved_max_replicas,
        cpu,
        memory_gb,
        limit_change_id,
        hpa_name
    from daily
    where
        approved_max_replicas is not null
        and hpa_max_replicas > approved_max_replicas
        and not hpa_max_replicas_in_grace
),

unregistered_deployment as (
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        team,
        {{ ledger_breach_type('unregistered_deployment') }} as breach_type,
        spec_replicas as observed_value,
        approved_max_replicas,
        cpu,
        memory_gb,
        limit_change_id,
        hpa_name
    from daily
    where approved_max_replicas is null
),

snapshot_over_limit as (
    select distinct
        snapshot_date,
        cluster,
        namespace,
        deployment
    from (
        select
            snapshot_date,
            cluster,
            namespace,
            deployment
        from replicas_over_limit
        union all
        select
            snapshot_date,
            cluster,
            namespace,
            deployment
        from hpa_max_over_limit
    ) as over_limit
),

intraday_over_limit as (
    -- The audit stream went above the approved max in force at that moment on a day whose
    -- snapshot is within it (a registered API): the day's worst such value.
    select
        peaks.snapshot_date,
        peaks.cluster,
        peaks.namespace,
        peaks.deployment,
        peaks.team,
        {{ ledger_breach_type('intraday_over_limit') }} as breach_type,
        peaks.over_limit_value as observed_value,
        peaks.over_limit_approved_max_replicas as approved_max_replicas,
        peaks.over_limit_cpu as cpu,
        peaks.over_limit_memory_gb as memory_gb,
        peaks.over_limit_change_id as limit_change_id,
        -- The audit stream names the object written, not the Deployment's HPA of the day.
        cast(null as {{ dbt.type_string() }}) as hpa_name
    from {{ ref('int_deployments__intraday_peaks') }} as peaks
    left join snapshot_over_limit
        on
            peaks.snapshot_date = snapshot_over_limit.snapshot_date
            and peaks.cluster = snapshot_over_limit.cluster
            and peaks.namespace = snapshot_over_limit.namespace
            and peaks.deployment = snapshot_over_limit.deployment
    where
        peaks.over_limit_value is not null
        and peaks.snapshot_approved_max_replicas is not null
        and snapshot_over_limit.snapshot_date is null
)

select * from replicas_over_limit
union all
select * from hpa_max_over_limit
union all
select * from unregistered_deployment
union all
select * from intraday_over_limit

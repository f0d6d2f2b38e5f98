-- Which breach types each daily observation shows (contract §3 "Breach types").
-- Only desired replicas count: status.replicas is left out on purpose, because a rolling
-- update's surge makes it exceed spec.replicas without any limit being broken.
with daily as (
    select * from {{ ref('int_deployments__with_limits') }}
),

replicas_over_limit as (
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        team,
        'replicas_over_limit' as breach_type,
        greatest(spec_replicas, coalesce(hpa_desired_replicas, spec_replicas)) as observed_value,
        approved_max_replicas,
        cpu,
        memory_gb,
        limit_change_id
    from daily
    where
        approved_max_replicas is not null
        and greatest(spec_replicas, coalesce(hpa_desired_replicas, spec_replicas)) > approved_max_replicas
),

hpa_max_over_limit as (
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        team,
        'hpa_max_over_limit' as breach_type,
        hpa_max_replicas as observed_value,
        approved_max_replicas,
        cpu,
        memory_gb,
        limit_change_id
    from daily
    where approved_max_replicas is not null and hpa_max_replicas > approved_max_replicas
),

unregistered_deployment as (
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        team,
        'unregistered_deployment' as breach_type,
        spec_replicas as observed_value,
        approved_max_replicas,
        cpu,
        memory_gb,
        limit_change_id
    from daily
    where approved_max_replicas is null
)

select * from replicas_over_limit
union all
select * from hpa_max_over_limit
union all
select * from unregistered_deployment

-- The HPA of each Deployment, linked by scaleTargetRef (kind Deployment, same namespace).
-- Two HPAs on one Deployment is a misconfiguration: keep the one with the highest max
-- (the stricter comparison) and count them so it stays visible.
with hpas as (
    select * from {{ ref('stg_k8s__hpas') }}
    where target_kind = 'Deployment'
),

ranked as (
    select
        *,
        row_number() over (
            partition by snapshot_date, cluster, namespace, target_name
            order by max_replicas desc, hpa asc
        ) as hpa_rank,
        count(*) over (partition by snapshot_date, cluster, namespace, target_name) as hpa_count
    from hpas
)

select
    snapshot_date,
    cluster,
    namespace,
    target_name as deployment,
    hpa as hpa_name,
    api_version as hpa_api_version,
    min_replicas as hpa_min_replicas,
    max_replicas as hpa_max_replicas,
    current_replicas as hpa_current_replicas,
    desired_replicas as hpa_desired_replicas,
    hpa_count
from ranked
where hpa_rank = 1

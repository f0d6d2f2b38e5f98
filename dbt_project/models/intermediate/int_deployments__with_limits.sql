-- One row per in-scope Deployment per snapshot, with its HPA and the approved limit in
-- force at the snapshot's captured_at (point in time, not the start of the day).
-- A view over the run window [D - L, D] (every day on a full rebuild): fct_deployment_daily
-- and fct_replica_breaches (through int_breach_conditions) store those days, judged from the
-- same join with the limits known now, so a late PED row re-judges the days it covers. The
-- window is filtered here, on each input, so BigQuery prunes the raw partitions.
with deployments as (
    select * from {{ ref('stg_k8s__deployments') }}
    where {{ ledger_window_filter('snapshot_date') }} and is_in_scope
),

hpas as (
    select * from {{ ref('int_hpas__by_deployment') }}
    where {{ ledger_window_filter('snapshot_date') }}
),

limits as (
    select * from {{ ref('int_replica_limits__versioned') }}
)

select
    deployments.snapshot_date,
    deployments.captured_at,
    deployments.cluster,
    deployments.namespace,
    deployments.deployment,
    deployments.spec_replicas,
    deployments.status_replicas,
    deployments.ready_replicas,
    deployments.available_replicas,
    deployments.updated_replicas,
    hpas.hpa_name,
    hpas.hpa_min_replicas,
    hpas.hpa_max_replicas,
    hpas.hpa_current_replicas,
    hpas.hpa_desired_replicas,
    coalesce(hpas.hpa_count, 0) as hpa_count,
    -- A rollout is under way while the controller has not caught up with the spec, or
    -- while surge pods exist beyond the desired count.
    (
        coalesce(deployments.observed_generation, 0) < coalesce(deployments.generation, 0)
        or deployments.updated_replicas < deployments.spec_replicas
        or deployments.status_replicas > deployments.spec_replicas
    ) as rollout_in_progress,
    limits.max_replicas as approved_max_replicas,
    limits.min_replicas as approved_min_replicas,
    limits.cpu,
    limits.memory_gb,
    limits.change_id as limit_change_id,
    coalesce(limits.team, deployments.team_label, deployments.namespace) as team
from deployments
left join hpas
    on
        deployments.snapshot_date = hpas.snapshot_date
        and deployments.cluster = hpas.cluster
        and deployments.namespace = hpas.namespace
        and deployments.deployment = hpas.deployment
left join limits
    on {{ ledger_limit_in_force('limits', 'deployments', 'deployments.captured_at') }}

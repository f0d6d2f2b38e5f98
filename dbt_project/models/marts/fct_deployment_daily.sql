{{ config(ledger_window_config()) }}

-- One row per in-scope Deployment per snapshot, with its HPA and the approved limit in
-- force at captured_at; the join is int_deployments__with_limits. Stores the run window
-- [D - L, D]: a late snapshot or PED row changes the days it covers on the next run.
select
    snapshot_date,
    captured_at,
    cluster,
    namespace,
    deployment,
    spec_replicas,
    status_replicas,
    ready_replicas,
    available_replicas,
    updated_replicas,
    hpa_name,
    hpa_min_replicas,
    hpa_max_replicas,
    hpa_current_replicas,
    hpa_desired_replicas,
    hpa_count,
    rollout_in_progress,
    approved_max_replicas,
    approved_min_replicas,
    cpu,
    memory_gb,
    limit_change_id,
    team
from {{ ref('int_deployments__with_limits') }}
where {{ ledger_window_filter('snapshot_date') }}

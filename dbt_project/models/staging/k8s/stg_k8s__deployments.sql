select
    snapshot_date,
    cluster,
    captured_at,
    namespace,
    deployment,
    uid,
    team_label,
    generation,
    observed_generation,
    spec_replicas,
    status_replicas,
    ready_replicas,
    available_replicas,
    updated_replicas,
    unavailable_replicas,
    max_surge,
    {{ ledger_namespace_in_scope('namespace') }} as is_in_scope
from {{ source('k8s', 'k8s_deployments') }}

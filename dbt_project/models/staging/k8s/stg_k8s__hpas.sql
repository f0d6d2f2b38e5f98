select
    snapshot_date,
    cluster,
    captured_at,
    namespace,
    hpa,
    api_version,
    target_kind,
    target_name,
    min_replicas,
    max_replicas,
    current_replicas,
    desired_replicas
from {{ source('k8s', 'k8s_hpas') }}

select
    snapshot_date,
    cluster,
    status,
    captured_at,
    source_uri,
    source_sha256,
    deployment_count,
    hpa_count,
    rejected_count,
    error,
    status = 'loaded' as has_snapshot
from {{ source('k8s', 'snapshot_manifest') }}

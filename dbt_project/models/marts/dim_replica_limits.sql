-- SCD2 history of approved limits, one row per version. The versions are built in
-- int_replica_limits__versioned, where the daily point-in-time join reads them too; this
-- mart is their published table.
select
    change_id,
    namespace,
    deployment,
    team,
    min_replicas,
    max_replicas,
    cpu,
    memory_gb,
    valid_from,
    valid_to,
    is_current,
    change_number,
    changed_by,
    reason
from {{ ref('int_replica_limits__versioned') }}

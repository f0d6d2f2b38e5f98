-- Change rows that are never used, with the reason (contract §3 "Bad change rows").
-- A limit outside 2..8 that reached the log lands here, never in dim_replica_limits,
-- so it is never billed as if it were valid.
select
    arrival_seq,
    change_id,
    namespace,
    deployment,
    team,
    quarantine_reason,
    quarantine_detail,
    max_replicas_raw,
    raw_line
from {{ ref('int_limit_changes__validated') }}
where validation_status = 'quarantined'

-- One row per (snapshot_date, cluster) with no usable snapshot. Nothing is inferred or
-- copied forward for these days: they simply have no observations and no breaches.
select
    snapshot_date,
    cluster,
    coalesce(status, 'not_processed') as gap_reason,
    error as gap_detail
from {{ ref('int_snapshot_expectations') }}
where not has_snapshot

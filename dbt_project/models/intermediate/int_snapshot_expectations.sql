-- Every (day, cluster) a snapshot was expected for: each cluster from the first day the
-- pipeline expected it until the last day the pipeline ran. A day the pipeline never ran
-- is expected too, so it shows as a gap instead of vanishing.
with manifest as (
    select * from {{ ref('stg_k8s__snapshot_manifest') }}
),

cluster_spans as (
    select
        cluster,
        min(snapshot_date) as first_day,
        (select max(snapshot_date) from manifest) as last_day
    from manifest
    group by cluster
),

days as (
    {{ ledger_expand_days('cluster_spans', 'first_day', 'last_day', 'snapshot_date') }}
)

select
    days.snapshot_date,
    days.cluster,
    manifest.status,
    manifest.error,
    coalesce(manifest.has_snapshot, false) as has_snapshot
from days
left join manifest
    on days.snapshot_date = manifest.snapshot_date and days.cluster = manifest.cluster

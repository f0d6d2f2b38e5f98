-- Every (day, cluster) a snapshot was expected for: each cluster from the first day the
-- pipeline expected it until the last day the pipeline ran. A day the pipeline never ran
-- is expected too, so it shows as a gap instead of vanishing.
with manifest as (
    select * from {{ ref('stg_k8s__snapshot_manifest') }}
),

last_run as (
    select max(snapshot_date) as last_day
    from manifest
),

cluster_spans as (
    select
        manifest.cluster,
        min(manifest.snapshot_date) as first_day,
        max(last_run.last_day) as last_day
    from manifest
    cross join last_run
    group by manifest.cluster
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

-- Intra-day peaks: for each in-scope Deployment and snapshot day, the highest HPA max and
-- desired replica count reached at any moment of the day, from the day's snapshot and the
-- day's audited writes together (the controllers' scale writes included), and the day's
-- worst audited value above the approved max in force at its moment (deploy grace
-- applied). Desired replicas only, like the snapshot's breach types: the audit log shows
-- spec.replicas and spec.maxReplicas, never a rollout's surge pods. One row per snapshot
-- row of int_deployments__with_limits (a day without a snapshot has no peak here: nothing
-- is said about a day without a snapshot); a day with no audited write has the snapshot's
-- values. Covers the run window, like its inputs.
with daily as (
    select * from {{ ref('int_deployments__with_limits') }}
),

audited as (
    select * from {{ ref('int_audit_values__with_limits') }}
),

audited_peaks as (
    select
        snapshot_date,
        cluster,
        namespace,
        deployment,
        max(case when field = 'max_replicas' then value end) as audited_hpa_max_replicas,
        max(case when field = 'replicas' then value end) as audited_replicas,
        sum(case when is_over_limit then 1 else 0 end) as over_limit_writes
    from audited
    group by snapshot_date, cluster, namespace, deployment
),

worst_over_limit as (
    -- The write furthest above its approved max; the earliest of equals.
    select
        *,
        row_number() over (
            partition by snapshot_date, cluster, namespace, deployment
            order by value - approved_max_replicas desc, value desc, changed_at asc, audit_id asc
        ) as excess_rank
    from audited
    where is_over_limit
)

select
    daily.snapshot_date,
    daily.captured_at,
    daily.cluster,
    daily.namespace,
    daily.deployment,
    daily.team,
    daily.approved_max_replicas as snapshot_approved_max_replicas,
    daily.hpa_max_replicas as snapshot_hpa_max_replicas,
    greatest(daily.spec_replicas, coalesce(daily.hpa_desired_replicas, daily.spec_replicas))
        as snapshot_desired_replicas,
    audited_peaks.audited_hpa_max_replicas,
    audited_peaks.audited_replicas,
    -- BigQuery's greatest() is null when any argument is: every argument is coalesced.
    nullif(greatest(
        coalesce(daily.hpa_max_replicas, -1), coalesce(audited_peaks.audited_hpa_max_replicas, -1)
    ), -1) as peak_hpa_max_replicas,
    nullif(greatest(
        coalesce(daily.spec_replicas, -1),
        coalesce(daily.hpa_desired_replicas, -1),
        coalesce(audited_peaks.audited_replicas, -1)
    ), -1) as peak_desired_replicas,
    coalesce(audited_peaks.over_limit_writes, 0) as over_limit_writes,
    worst_over_limit.field as over_limit_field,
    worst_over_limit.value as over_limit_value,
    worst_over_limit.changed_at as over_limit_at,
    worst_over_limit.approved_max_replicas as over_limit_approved_max_replicas,
    worst_over_limit.cpu as over_limit_cpu,
    worst_over_limit.memory_gb as over_limit_memory_gb,
    worst_over_limit.limit_change_id as over_limit_change_id
from daily
left join audited_peaks
    on
        daily.snapshot_date = audited_peaks.snapshot_date
        and daily.cluster = audited_peaks.cluster
        and daily.namespace = audited_peaks.namespace
        and daily.deployment = audited_peaks.deployment
left join worst_over_limit
    on
        daily.snapshot_date = worst_over_limit.snapshot_date
        and daily.cluster = worst_over_limit.cluster
        and daily.namespace = worst_over_limit.namespace
        and daily.deployment = worst_over_limit.deployment
        and worst_over_limit.excess_rank = 1

{{ config(
    materialized='table',
    partition_by=ledger_partition_by('billing_month', 'month'),
    cluster_by=['namespace', 'deployment'],
) }}

-- The chart of each billed API's month on its statement (contract §7): one row per API
-- and snapshot day of a month with a statement, all clusters together. The day's desired
-- replicas (spec.replicas or the HPA's status.desiredReplicas, the highest), the HPA's
-- spec.maxReplicas, the intra-day peak (the highest of those and of every audited write
-- loaded under the day, the controllers' included), the approved max in force at the
-- capture, and the breach types the day shows. A day without a snapshot has no row.
with billed as (
    select distinct
        billing_month,
        namespace,
        deployment
    from {{ ref('fct_billing_statements') }}
),

daily as (
    select
        {{ ledger_month_start('snapshot_date') }} as billing_month,
        snapshot_date,
        namespace,
        deployment,
        max(greatest(spec_replicas, coalesce(hpa_desired_replicas, spec_replicas))) as desired_replicas,
        max(hpa_max_replicas) as hpa_max_replicas,
        max(approved_max_replicas) as approved_max_replicas
    from {{ ref('fct_deployment_daily') }}
    where {{ ledger_all_partitions('snapshot_date') }}
    group by 1, 2, 3, 4
),

audited as (
    select
        billing_month,
        snapshot_date,
        namespace,
        deployment,
        max(observed_max_replicas) as audited_max_replicas
    from {{ ref('int_audit_values__monthly_peaks') }}
    group by 1, 2, 3, 4
),

breaches as (
    select
        snapshot_date,
        namespace,
        deployment,
        count(distinct breach_type) as breach_types
    from {{ ref('fct_replica_breaches') }}
    where {{ ledger_all_partitions('snapshot_date') }}
    group by 1, 2, 3
)

select
    daily.billing_month,
    daily.snapshot_date,
    daily.namespace,
    daily.deployment,
    daily.desired_replicas,
    daily.hpa_max_replicas,
    greatest(
        coalesce(daily.desired_replicas, 0),
        coalesce(daily.hpa_max_replicas, 0),
        coalesce(audited.audited_max_replicas, 0)
    ) as peak_replicas,
    daily.approved_max_replicas,
    coalesce(breaches.breach_types, 0) > 0 as is_breach_day,
    coalesce(breaches.breach_types, 0) as breach_types
from daily
inner join billed
    on
        daily.billing_month = billed.billing_month
        and daily.namespace = billed.namespace
        and daily.deployment = billed.deployment
left join audited
    on
        daily.billing_month = audited.billing_month
        and daily.snapshot_date = audited.snapshot_date
        and daily.namespace = audited.namespace
        and daily.deployment = audited.deployment
left join breaches
    on
        daily.snapshot_date = breaches.snapshot_date
        and daily.namespace = breaches.namespace
        and daily.deployment = breaches.deployment

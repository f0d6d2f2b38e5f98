{{ config(
    materialized='table',
    partition_by=ledger_partition_by('billing_month', 'month'),
    cluster_by=['namespace', 'deployment'],
) }}

-- The monthly bill per API (contract §2, §3 "Billing", "Exposure"): the current version of
-- each closed statement line (fct_billing_statements), with the day-weighted
-- prorated_amount for comparison and the exposure: observed_max_replicas, the intra-day
-- peak of the month on any cluster, the highest HPA spec.maxReplicas or desired replica
-- count (spec.replicas, HPA status.desiredReplicas) seen in any snapshot or reached by any
-- audited write between snapshots (contract §6), and unapproved_exposure_amount, what
-- the bill would add at that count with the billed cpu and memory (never below 0). The
-- bill itself stays on approved limits. A table rebuilt from the ledger on every close.
with statements as (
    select * from {{ ref('fct_billing_statements') }}
    where superseded_at is null
),

lines as (
    select * from {{ ref('int_billing_lines') }}
),

rates as (
    {{ ledger_billing_rates_in_force() }}
),

snapshot_peaks as (
    select
        {{ ledger_month_start('snapshot_date') }} as billing_month,
        namespace,
        deployment,
        max(greatest(
            coalesce(hpa_max_replicas, 0), coalesce(spec_replicas, 0), coalesce(hpa_desired_replicas, 0)
        )) as observed_max_replicas
    from {{ ref('fct_deployment_daily') }}
    where {{ ledger_all_partitions('snapshot_date') }}
    group by 1, 2, 3
),

audited_peaks as (
    -- The intra-day peaks between snapshots: every audited HPA max and replica count (the
    -- controllers' scale writes included), in the month they were written, kept per load
    -- day by int_audit_values__monthly_peaks. Empty when no audit source is configured.
    select
        billing_month,
        namespace,
        deployment,
        max(observed_max_replicas) as observed_max_replicas
    from {{ ref('int_audit_values__monthly_peaks') }}
    group by 1, 2, 3
),

observed as (
    select
        billing_month,
        namespace,
        deployment,
        max(observed_max_replicas) as observed_max_replicas
    from (
        select * from snapshot_peaks
        union all
        select * from audited_peaks
    ) as peaks
    group by 1, 2, 3
),

current_lines as (
    select
        statements.billing_month,
        statements.namespace,
        statements.deployment,
        statements.team,
        statements.billed_max_replicas,
        statements.cpu,
        statements.memory_gb,
        statements.amount,
        coalesce(lines.prorated_amount, cast(0 as {{ ledger_type_money() }})) as prorated_amount,
        observed.observed_max_replicas,
        {{ ledger_exposure_amount(
            'statements.cpu', 'statements.memory_gb', 'observed.observed_max_replicas', 'statements.amount', 'rates'
        ) }} as unapproved_exposure_amount,
        statements.statement_version,
        statements.closed_at,
        statements.restatement_reason,
        statements.billed_change_id,
        coalesce(lines.days_in_force_at_day_end, 0) as days_in_force_at_day_end
    from statements
    left join lines
        on
            statements.billing_month = lines.billing_month
            and statements.namespace = lines.namespace
            and statements.deployment = lines.deployment
    left join observed
        on
            statements.billing_month = observed.billing_month
            and statements.namespace = observed.namespace
            and statements.deployment = observed.deployment
    left join rates
        on {{ ledger_rate_in_force('rates', 'statements.billing_month') }}
)

select
    billing_month,
    namespace,
    deployment,
    team,
    billed_max_replicas,
    cpu,
    memory_gb,
    amount,
    prorated_amount,
    observed_max_replicas,
    unapproved_exposure_amount,
    statement_version,
    closed_at,
    restatement_reason,
    billed_change_id,
    days_in_force_at_day_end
from current_lines

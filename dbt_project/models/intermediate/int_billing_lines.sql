-- The statement line every closable month would get today (contract §3 "Billing"), from
-- the limits and rates known now. fct_billing_statements compares it with what was closed
-- and writes a new version only where it differs; mart_monthly_billing shows the current
-- versions. An API is billed for a month if any approved version is in force during it;
-- the amount is the highest monthly charge among those versions, at the rates in force
-- on the month's first day. A month with no rate in force keeps its lines with a null
-- amount, and the test billing_month_without_rate_in_force fails the build.
with versions as (
    select * from {{ ref('int_replica_limits__versioned') }}
),

rates as (
    {{ ledger_billing_rates_in_force() }}
),

months as (
    {{ ledger_closable_months() }}
),

month_bounds as (
    select
        billing_month,
        {{ ledger_day_start_ts('billing_month') }} as month_start_at,
        {{ ledger_day_start_ts(ledger_month_add('billing_month', 1)) }} as month_end_at,
        {{ ledger_date_add(ledger_month_add('billing_month', 1), -1) }} as last_day,
        {{ ledger_days_in_month('billing_month') }} as days_in_month
    from months
),

versions_in_month as (
    select
        month_bounds.billing_month,
        versions.*
    from month_bounds
    inner join versions
        on
            versions.valid_from < month_bounds.month_end_at
            and (versions.valid_to is null or versions.valid_to > month_bounds.month_start_at)
),

charged_versions as (
    select
        versions_in_month.*,
        rates.effective_from as rate_effective_from,
        {{ ledger_monthly_charge(
            'versions_in_month.cpu', 'versions_in_month.memory_gb', 'versions_in_month.max_replicas', 'rates'
        ) }} as monthly_charge
    from versions_in_month
    left join rates
        on {{ ledger_rate_in_force('rates', 'versions_in_month.billing_month') }}
),

billed_version as (
    select
        *,
        row_number() over (
            partition by billing_month, namespace, deployment
            order by monthly_charge desc, valid_from desc
        ) as charge_rank
    from charged_versions
),

month_days as (
    {{ ledger_expand_days('month_bounds', 'billing_month', 'last_day', 'billing_day') }}
),

daily_charges as (
    -- The version in force at the end of each day: opened before midnight, not closed by then.
    select
        month_days.billing_month,
        month_days.days_in_month,
        versions.namespace,
        versions.deployment,
        {{ ledger_monthly_charge('versions.cpu', 'versions.memory_gb', 'versions.max_replicas', 'rates') }}
            as daily_monthly_charge
    from month_days
    inner join versions
        on
            versions.valid_from < {{ ledger_day_start_ts(ledger_date_add('month_days.billing_day', 1)) }}
            and (
                versions.valid_to is null
                or versions.valid_to >= {{ ledger_day_start_ts(ledger_date_add('month_days.billing_day', 1)) }}
            )
    inner join rates
        on {{ ledger_rate_in_force('rates', 'month_days.billing_day') }}
),

prorated as (
    select
        billing_month,
        namespace,
        deployment,
        {{ ledger_money_quotient('sum(daily_monthly_charge)', 'max(days_in_month)') }} as prorated_amount,
        count(*) as days_in_force_at_day_end
    from daily_charges
    group by billing_month, namespace, deployment
)

select
    billed_version.billing_month,
    billed_version.namespace,
    billed_version.deployment,
    billed_version.team,
    billed_version.max_replicas as billed_max_replicas,
    billed_version.cpu,
    billed_version.memory_gb,
    billed_version.monthly_charge as amount,
    coalesce(prorated.prorated_amount, cast(0 as {{ ledger_type_money() }})) as prorated_amount,
    billed_version.change_id as billed_change_id,
    billed_version.rate_effective_from,
    coalesce(prorated.days_in_force_at_day_end, 0) as days_in_force_at_day_end
from billed_version
left join prorated
    on
        billed_version.billing_month = prorated.billing_month
        and billed_version.namespace = prorated.namespace
        and billed_version.deployment = prorated.deployment
where billed_version.charge_rank = 1

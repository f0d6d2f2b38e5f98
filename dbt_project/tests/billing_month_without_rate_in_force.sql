-- Fails (error) when an API would be billed for a month that no row of seeds/billing_rates.csv
-- covers: the month cannot be charged, and it must not be dropped silently. Fix: add a rate
-- row whose effective_from is on or before the month's first day.
{{ config(severity='error') }}

select
    billing_month,
    namespace,
    deployment,
    'no billing rate in force on ' || cast(billing_month as {{ ledger_type_string() }})
    || ': add a row to seeds/billing_rates.csv effective on or before that day' as problem
from {{ ref('int_billing_lines') }}
where rate_effective_from is null

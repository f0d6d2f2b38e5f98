-- The months the run's window may close (contract §5 "Month close"), for the billing step to
-- ask (steps/billing.py): the rule is the macro ledger_closable_months, as int_billing_lines
-- uses it. run_day is the snapshot day they were judged for: the build's run day, or the
-- latest snapshot day on a build without one (a full rebuild), as the macro takes it.
{%- set day = ledger_run_day() %}

with closable as (
    {{ ledger_closable_months() }}
),

latest as (
    select max(snapshot_date) as last_day
    from {{ ref('int_snapshot_expectations') }}
)

select
    closable.billing_month,
    {% if day is none %}latest.last_day{% else %}{{ ledger_date_literal(day) }}{% endif %} as run_day
from closable
cross join latest

-- The months the run's window may close (contract §5 "Month close"), for the billing step to
-- ask (steps/billing.py): the rule is the macro ledger_closable_months, as int_billing_lines
-- uses it. run_day is the snapshot day of the build that made the view (null on a rebuild).
with closable as (
    {{ ledger_closable_months() }}
)

select
    billing_month,
    {%- set day = ledger_run_day() %}
    {% if day is none %}cast(null as date){% else %}{{ ledger_date_literal(day) }}{% endif %} as run_day
from closable

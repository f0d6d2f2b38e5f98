{#- The months a run may close (contract §5 "Month close"): from the first month with a
    snapshot day to the last month whose last day is on or before the run's snapshot day
    (the latest snapshot day on a full rebuild). A month whose last-day run was missed is
    closed by the next run, because "on or before" includes every later day. -#}
{% macro ledger_closable_months() -%}
    {%- set day = ledger_run_day() -%}
    with snapshot_days as (
        select
            min(snapshot_date) as first_day,
            {%- if day is none %}
            max(snapshot_date) as run_day
            {%- else %}
            {{ ledger_date_literal(day) }} as run_day
            {%- endif %}
        from {{ ref('int_snapshot_expectations') }}
    ),

    span as (
        select
            {{ ledger_month_start('first_day') }} as first_month,
            -- The last closable month starts a month before the first day after run_day.
            {{ ledger_month_add(ledger_month_start(ledger_date_add('run_day', 1)), -1) }} as last_month
        from snapshot_days
        where first_day is not null
    ),

    span_days as (
        {{ ledger_expand_days('span', 'first_month', 'last_month', 'month_day') }}
    )

    select distinct month_day as billing_month
    from span_days
    where month_day = {{ ledger_month_start('month_day') }}
{%- endmacro %}

{#- The run window: which snapshot day (and billing month) this invocation rebuilds.
    Values arrive as dbt vars from the DAG; they are validated before they reach SQL so a
    malformed var fails loudly instead of becoming a SQL fragment. -#}

{% macro ledger_run_day() -%}
    {%- set raw = var('snapshot_date', none) -%}
    {%- if raw is none or raw == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parsed = modules.datetime.date.fromisoformat(raw | string) -%}
    {{ return(parsed.isoformat()) }}
{%- endmacro %}


{% macro ledger_billing_month() -%}
    {%- set raw = var('billing_month', none) -%}
    {%- if raw is none or raw == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parsed = modules.datetime.date.fromisoformat(raw | string) -%}
    {%- if parsed.day != 1 -%}
        {{ exceptions.raise_compiler_error("billing_month must be the first day of a month, got " ~ raw) }}
    {%- endif -%}
    {{ return(parsed.isoformat()) }}
{%- endmacro %}


{#- A predicate restricting `column` to the run's day (or true for a full rebuild). -#}
{% macro ledger_day_filter(column) -%}
    {%- set day = ledger_run_day() -%}
    {%- if day is none -%} {{ ledger_all_partitions(column) }} {%- else -%} {{ column }} = {{ ledger_date_literal(day) }} {%- endif -%}
{%- endmacro %}


{#- The days strictly before the run's day that may hold the previous snapshot; a static
    range so BigQuery prunes partitions. -#}
{% macro ledger_lookback_filter(column) -%}
    {%- set day = ledger_run_day() -%}
    {%- if day is none -%} {{ ledger_all_partitions(column) }} {%- else -%}
        {{ column }} >= {{ ledger_date_add(ledger_date_literal(day), -var('episode_lookback_days')) }}
        and {{ column }} < {{ ledger_date_literal(day) }}
    {%- endif -%}
{%- endmacro %}


{% macro ledger_date_literal(iso_day) -%}
    cast('{{ iso_day }}' as date)
{%- endmacro %}

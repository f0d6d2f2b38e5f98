{#- Day-partitioned incremental facts, idempotent per run window.

    BigQuery: insert_overwrite of the run's partitions (static list), so a re-run replaces
    the day, and an empty result still clears it.
    DuckDB: append after a pre-hook deletes the run window; same effect in one transaction
    per model. -#}

{% macro ledger_incremental_strategy() -%}
    {{ return(adapter.dispatch('ledger_incremental_strategy', 'replica_ledger')()) }}
{%- endmacro %}
{% macro default__ledger_incremental_strategy() -%}
    {{ return('append') }}
{%- endmacro %}
{% macro bigquery__ledger_incremental_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}


{#- Static partitions of the run (BigQuery); none means "the partitions the query yields". -#}
{% macro ledger_run_partitions(kind='day') -%}
    {%- set value = ledger_run_day() if kind == 'day' else ledger_billing_month() -%}
    {%- if value is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(["cast('" ~ value ~ "' as date)"]) }}
{%- endmacro %}


{#- Pre-hook: clear the run window before appending (no-op on BigQuery and on first build). -#}
{% macro ledger_clear_run_window(column, kind='day') -%}
    {{ return(adapter.dispatch('ledger_clear_run_window', 'replica_ledger')(column, kind)) }}
{%- endmacro %}
{% macro default__ledger_clear_run_window(column, kind) -%}
    {%- if execute and is_incremental() -%}
        {%- set value = ledger_run_day() if kind == 'day' else ledger_billing_month() -%}
        delete from {{ this }}
        where {% if value is none %}true{% else %}{{ column }} = {{ ledger_date_literal(value) }}{% endif %}
    {%- endif -%}
{%- endmacro %}
{% macro bigquery__ledger_clear_run_window(column, kind) -%}
{%- endmacro %}


{#- Partitioning is a BigQuery table option; DuckDB tables are not partitioned. -#}
{% macro ledger_partition_by(field, granularity='day') -%}
    {{ return(adapter.dispatch('ledger_partition_by', 'replica_ledger')(field, granularity)) }}
{%- endmacro %}
{% macro default__ledger_partition_by(field, granularity) -%}
    {{ return(none) }}
{%- endmacro %}
{% macro bigquery__ledger_partition_by(field, granularity) -%}
    {{ return({'field': field, 'data_type': 'date', 'granularity': granularity}) }}
{%- endmacro %}

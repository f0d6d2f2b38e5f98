{#- The run window: which snapshot day (and billing month) this invocation rebuilds.
    Values are validated before they reach SQL so a malformed one fails loudly instead of
    becoming a SQL fragment.

    Two ways in: the dbt vars `snapshot_date` / `billing_month` (`--vars`, for a person at
    the command line), and, when the var is not set, the environment variables
    REPLICA_LEDGER_DBT_SNAPSHOT_DATE / REPLICA_LEDGER_DBT_BILLING_MONTH (what the DAG uses,
    through dbt_runner.run_dbt). Why: dbt drops its partial-parse cache whenever the
    --vars change, so a new day in --vars meant a full parse of the project on every run
    (~4 s of a ~12 s daily build for 2,000 APIs, bench/bench_dbt.py). A changed env var
    only re-parses the few models that read it. Same values, same SQL either way. -#}

{% macro ledger_run_day() -%}
    {%- set raw = var('snapshot_date', none) or env_var('REPLICA_LEDGER_DBT_SNAPSHOT_DATE', '') -%}
    {%- if raw is none or raw == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parsed = modules.datetime.date.fromisoformat(raw | string) -%}
    {{ return(parsed.isoformat()) }}
{%- endmacro %}


{% macro ledger_billing_month() -%}
    {%- set raw = var('billing_month', none) or env_var('REPLICA_LEDGER_DBT_BILLING_MONTH', '') -%}
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


{#- The run window: the run's day and the lookback days before it (what a run reads to
    judge its day against the previous snapshot); every partition on a full rebuild. -#}
{% macro ledger_window_filter(column) -%}
    {%- set day = ledger_run_day() -%}
    {%- if day is none -%} {{ ledger_all_partitions(column) }} {%- else -%}
        {{ column }} >= {{ ledger_date_add(ledger_date_literal(day), -var('episode_lookback_days')) }}
        and {{ column }} <= {{ ledger_date_literal(day) }}
    {%- endif -%}
{%- endmacro %}


{% macro ledger_date_literal(iso_day) -%}
    cast('{{ iso_day }}' as date)
{%- endmacro %}

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


{#- The lookback window L (contract §5 "Late data"): a run for day D rebuilds the per-day
    facts of [D - L, D]. The var `lookback_days` (a hand run), else the environment variable
    REPLICA_LEDGER_DBT_LOOKBACK_DAYS (the DAG: Settings.lookback_days, 0 for a backfill),
    else 0: the run's day only. Not a --vars value in the DAG, for the same partial-parse
    reason as the day. -#}
{% macro ledger_lookback_days() -%}
    {%- set from_var = var('lookback_days', none) -%}
    {%- set raw = from_var if from_var is not none else env_var('REPLICA_LEDGER_DBT_LOOKBACK_DAYS', '') -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set text = raw | string | trim -%}
    {%- if not text.isdigit() -%}
        {{ exceptions.raise_compiler_error("lookback_days must be an integer >= 0, got " ~ raw) }}
    {%- endif -%}
    {{ return(text | int) }}
{%- endmacro %}


{#- The first day of the run window (ISO), none on a full rebuild. -#}
{% macro ledger_window_start() -%}
    {%- set day = ledger_run_day() -%}
    {%- if day is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set start = modules.datetime.date.fromisoformat(day) - modules.datetime.timedelta(days=ledger_lookback_days()) -%}
    {{ return(start.isoformat()) }}
{%- endmacro %}


{#- Every day of the run window, oldest first (ISO); none on a full rebuild. -#}
{% macro ledger_window_days() -%}
    {%- set day = ledger_run_day() -%}
    {%- if day is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set last = modules.datetime.date.fromisoformat(day) -%}
    {%- set days = [] -%}
    {%- for back in range(ledger_lookback_days(), -1, -1) -%}
        {%- do days.append((last - modules.datetime.timedelta(days=back)).isoformat()) -%}
    {%- endfor -%}
    {{ return(days) }}
{%- endmacro %}


{#- A predicate restricting `column` to the run's day (or true for a full rebuild). -#}
{% macro ledger_day_filter(column) -%}
    {%- set day = ledger_run_day() -%}
    {%- if day is none -%} {{ ledger_all_partitions(column) }} {%- else -%} {{ column }} = {{ ledger_date_literal(day) }} {%- endif -%}
{%- endmacro %}


{#- The run window [D - L, D]: the days a run rebuilds (every partition on a full rebuild).
    A static range, so BigQuery prunes partitions. -#}
{% macro ledger_window_filter(column) -%}
    {%- set day = ledger_run_day() -%}
    {%- if day is none -%} {{ ledger_all_partitions(column) }} {%- else -%}
        {{ column }} >= {{ ledger_date_literal(ledger_window_start()) }}
        and {{ column }} <= {{ ledger_date_literal(day) }}
    {%- endif -%}
{%- endmacro %}


{#- Every day up to the run's day (what came before it, e.g. a cluster's previous snapshot
    day however far back); every partition on a full rebuild. A predicate on the partition
    column, so BigQuery's require_partition_filter accepts it. -#}
{% macro ledger_until_day_filter(column) -%}
    {%- set day = ledger_run_day() -%}
    {%- if day is none -%} {{ ledger_all_partitions(column) }} {%- else -%}
        {{ column }} <= {{ ledger_date_literal(day) }}
    {%- endif -%}
{%- endmacro %}


{#- The days before the run window (rows earlier runs stored); none on a full rebuild. -#}
{% macro ledger_before_window_filter(column) -%}
    {%- set start = ledger_window_start() -%}
    {%- if start is none -%} false {%- else -%} {{ column }} < {{ ledger_date_literal(start) }} {%- endif -%}
{%- endmacro %}


{% macro ledger_date_literal(iso_day) -%}
    cast('{{ iso_day }}' as date)
{%- endmacro %}

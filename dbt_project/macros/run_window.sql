{#- The run window: which snapshot days this invocation rebuilds. Values are validated
    before they reach SQL so a malformed one fails loudly instead of becoming a SQL fragment.

    Two ways in: the dbt vars `snapshot_date` / `lookback_days` (`--vars`, for a person at the
    command line), and, when a var is not set, the environment variables
    REPLICA_LEDGER_DBT_SNAPSHOT_DATE / REPLICA_LEDGER_DBT_LOOKBACK_DAYS (what the DAG uses,
    through dbt_runner.run_dbt). Why: dbt drops its partial-parse cache whenever the --vars
    change, so a new day in --vars would mean a full parse of the project on every run
    (docs/benchmarks.md has the cost). A changed env var re-parses only the files that read
    it, and ledger_window_env keeps those few. Same values, same SQL either way. -#}


{#- One of the window's environment variables, read only where its value can matter: when
    a node executes, or while dbt parses a BigQuery model's `partitions` config (dbt fixes a
    model's config at parse time). dbt re-parses every file that read an env var whose value
    changed since the last parse, so reading the day while parsing any model would re-parse
    those models and rewrite the partial-parse cache on every new day. At parse time a model
    otherwise renders as a full rebuild, which references the same nodes. -#}
{% macro ledger_window_env(name, for_config=false) -%}
    {%- if execute or (for_config and target.type == 'bigquery') -%}
        {{ return(env_var(name, '')) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{% macro ledger_run_day(for_config=false) -%}
    {%- set raw = var('snapshot_date', none) or ledger_window_env('REPLICA_LEDGER_DBT_SNAPSHOT_DATE', for_config) -%}
    {%- if raw is none or raw == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parsed = modules.datetime.date.fromisoformat(raw | string) -%}
    {{ return(parsed.isoformat()) }}
{%- endmacro %}


{#- The lookback window L (contract §5 "Late data"): a run for day D rebuilds the per-day
    facts of [D - L, D]. The var `lookback_days` (a hand run), else the environment variable
    REPLICA_LEDGER_DBT_LOOKBACK_DAYS (the DAG: the days back to the run window's start, raw.record.run_window),
    else 0: the run's day only. Not a --vars value in the DAG, for the same partial-parse
    reason as the day. -#}
{% macro ledger_lookback_days(for_config=false) -%}
    {%- set from_var = var('lookback_days', none) -%}
    {%- set raw = from_var if from_var is not none else ledger_window_env('REPLICA_LEDGER_DBT_LOOKBACK_DAYS', for_config) -%}
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
{% macro ledger_window_days(for_config=false) -%}
    {%- set day = ledger_run_day(for_config) -%}
    {%- if day is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set last = modules.datetime.date.fromisoformat(day) -%}
    {%- set days = [] -%}
    {%- for back in range(ledger_lookback_days(for_config), -1, -1) -%}
        {%- do days.append((last - modules.datetime.timedelta(days=back)).isoformat()) -%}
    {%- endfor -%}
    {{ return(days) }}
{%- endmacro %}


{#- The run window [D - L, D]: the days a run rebuilds (every partition on a full rebuild).
    A static range, so BigQuery prunes partitions. With reach_back_days = N, the range starts
    N days earlier: what a model reads to rebuild the window, when a row depends on the
    days before it (fct_limit_edits: the value before an edit). -#}
{% macro ledger_window_filter(column, reach_back_days=0) -%}
    {%- set day = ledger_run_day() -%}
    {%- if day is none -%} {{ ledger_all_partitions(column) }} {%- else -%}
        {%- set start = modules.datetime.date.fromisoformat(ledger_window_start())
            - modules.datetime.timedelta(days=reach_back_days) -%}
        {{ column }} >= {{ ledger_date_literal(start.isoformat()) }}
        and {{ column }} <= {{ ledger_date_literal(day) }}
    {%- endif -%}
{%- endmacro %}


{#- The run window (with reach_back_days) on an incremental run; every partition when the
    model is built whole: its first build, a full refresh, a table replaced by
    ledger_replace_table_without. For a model whose rows are derived from the history
    (fct_limit_edits), so its first run keeps every earlier row. -#}
{% macro ledger_incremental_window_filter(column, reach_back_days=0) -%}
    {%- if ledger_is_incremental() -%} {{ ledger_window_filter(column, reach_back_days) }}
    {%- else -%} {{ ledger_all_partitions(column) }} {%- endif -%}
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

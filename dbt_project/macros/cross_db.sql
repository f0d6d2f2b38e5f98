{#- SQL that differs between DuckDB (local, tests) and BigQuery (production).
    Every model calls these; each has a default (DuckDB) and a BigQuery implementation. -#}

{% macro ledger_date_add(date_expr, days) -%}
    {{ return(adapter.dispatch('ledger_date_add', 'replica_ledger')(date_expr, days)) }}
{%- endmacro %}
{% macro default__ledger_date_add(date_expr, days) -%}
    cast({{ date_expr }} + to_days(cast({{ days }} as integer)) as date)
{%- endmacro %}
{% macro bigquery__ledger_date_add(date_expr, days) -%}
    date_add({{ date_expr }}, interval {{ days }} day)
{%- endmacro %}


{% macro ledger_month_add(date_expr, months) -%}
    {{ return(adapter.dispatch('ledger_month_add', 'replica_ledger')(date_expr, months)) }}
{%- endmacro %}
{% macro default__ledger_month_add(date_expr, months) -%}
    cast({{ date_expr }} + to_months(cast({{ months }} as integer)) as date)
{%- endmacro %}
{% macro bigquery__ledger_month_add(date_expr, months) -%}
    date_add({{ date_expr }}, interval {{ months }} month)
{%- endmacro %}


{% macro ledger_month_start(date_expr) -%}
    {{ return(adapter.dispatch('ledger_month_start', 'replica_ledger')(date_expr)) }}
{%- endmacro %}
{% macro default__ledger_month_start(date_expr) -%}
    cast(date_trunc('month', {{ date_expr }}) as date)
{%- endmacro %}
{% macro bigquery__ledger_month_start(date_expr) -%}
    date_trunc(cast({{ date_expr }} as date), month)
{%- endmacro %}


{#- Midnight UTC at the start of a date, as a timestamp. -#}
{% macro ledger_day_start_ts(date_expr) -%}
    {{ return(adapter.dispatch('ledger_day_start_ts', 'replica_ledger')(date_expr)) }}
{%- endmacro %}
{% macro default__ledger_day_start_ts(date_expr) -%}
    cast({{ date_expr }} as timestamp)
{%- endmacro %}
{% macro bigquery__ledger_day_start_ts(date_expr) -%}
    timestamp({{ date_expr }}, 'UTC')
{%- endmacro %}


{% macro ledger_days_in_month(month_start_expr) -%}
    {{ return(adapter.dispatch('ledger_days_in_month', 'replica_ledger')(month_start_expr)) }}
{%- endmacro %}
{% macro default__ledger_days_in_month(month_start_expr) -%}
    datediff('day', {{ month_start_expr }}, {{ ledger_month_add(month_start_expr, 1) }})
{%- endmacro %}
{% macro bigquery__ledger_days_in_month(month_start_expr) -%}
    date_diff({{ ledger_month_add(month_start_expr, 1) }}, {{ month_start_expr }}, day)
{%- endmacro %}


{#- One row per day from start_col to end_col (inclusive) for each row of `relation`:
    `select <relation columns>, <alias> from ...`. -#}
{% macro ledger_expand_days(relation, start_col, end_col, alias) -%}
    {{ return(adapter.dispatch('ledger_expand_days', 'replica_ledger')(relation, start_col, end_col, alias)) }}
{%- endmacro %}
{% macro default__ledger_expand_days(relation, start_col, end_col, alias) -%}
    select
        r.*,
        cast(unnest(generate_series(
            cast(r.{{ start_col }} as date), cast(r.{{ end_col }} as date), interval 1 day
        )) as date) as {{ alias }}
    from {{ relation }} as r
{%- endmacro %}
{% macro bigquery__ledger_expand_days(relation, start_col, end_col, alias) -%}
    select r.*, {{ alias }}
    from {{ relation }} as r
    cross join unnest(generate_date_array(r.{{ start_col }}, r.{{ end_col }})) as {{ alias }}
{%- endmacro %}


{#- Lenient casts: a value that does not fit becomes null, and validation reports it. -#}
{% macro ledger_safe_cast(expr, sql_type) -%}
    {{ return(adapter.dispatch('ledger_safe_cast', 'replica_ledger')(expr, sql_type)) }}
{%- endmacro %}
{% macro default__ledger_safe_cast(expr, sql_type) -%}
    try_cast({{ expr }} as {{ sql_type }})
{%- endmacro %}
{% macro bigquery__ledger_safe_cast(expr, sql_type) -%}
    safe_cast({{ expr }} as {{ sql_type }})
{%- endmacro %}


{#- RFC 3339 text to a UTC timestamp; null when it does not parse or has no zone. -#}
{% macro ledger_parse_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('ledger_parse_utc_timestamp', 'replica_ledger')(expr)) }}
{%- endmacro %}
{% macro default__ledger_parse_utc_timestamp(expr) -%}
    case
        when regexp_matches({{ expr }}, '(Z|[+-][0-9]{2}:?[0-9]{2})$')
            then cast(try_cast({{ expr }} as timestamptz) at time zone 'UTC' as timestamp)
    end
{%- endmacro %}
{% macro bigquery__ledger_parse_utc_timestamp(expr) -%}
    case
        when regexp_contains({{ expr }}, r'(Z|[+-][0-9]{2}:?[0-9]{2})$')
            then safe_cast({{ expr }} as timestamp)
    end
{%- endmacro %}


{#- A stable fingerprint of several text expressions (nulls are distinct from ''): the md5
    of the values joined by '|', so both adapters give the same id for the same values. -#}
{% macro ledger_fingerprint(exprs) -%}
    {{ return(adapter.dispatch('ledger_fingerprint', 'replica_ledger')(exprs)) }}
{%- endmacro %}
{% macro default__ledger_fingerprint(exprs) -%}
    md5(concat_ws('|'{% for e in exprs %}, coalesce(cast({{ e }} as varchar), '<null>'){% endfor %}))
{%- endmacro %}
{% macro bigquery__ledger_fingerprint(exprs) -%}
    to_hex(md5(concat(
        {%- for e in exprs %}{% if not loop.first %}, '|', {% endif %}coalesce(cast({{ e }} as string), '<null>'){% endfor -%}
    )))
{%- endmacro %}


{% macro ledger_type_string() -%}
    {{ return(adapter.dispatch('ledger_type_string', 'replica_ledger')()) }}
{%- endmacro %}
{% macro default__ledger_type_string() -%} varchar {%- endmacro %}
{% macro bigquery__ledger_type_string() -%} string {%- endmacro %}


{% macro ledger_type_int() -%}
    {{ return(adapter.dispatch('ledger_type_int', 'replica_ledger')()) }}
{%- endmacro %}
{% macro default__ledger_type_int() -%} bigint {%- endmacro %}
{% macro bigquery__ledger_type_int() -%} int64 {%- endmacro %}


{% macro ledger_type_float() -%}
    {{ return(adapter.dispatch('ledger_type_float', 'replica_ledger')()) }}
{%- endmacro %}
{% macro default__ledger_type_float() -%} double {%- endmacro %}
{% macro bigquery__ledger_type_float() -%} float64 {%- endmacro %}


{#- Namespace scope: false for a namespace matched by one of the excluded patterns (the var
    excluded_namespaces, or `patterns`). The pattern language, the same in the Python
    (replica_ledger.audit.writes.in_scope): `*` matches any run of characters, every other
    character only itself, so `?`, `[`, `_` and `%` are plain characters (Settings refuses
    them in REPLICA_LEDGER_EXCLUDED_NAMESPACES anyway). tests/parity/ holds the two together.
    Compiled to one regular expression (RE2 on both adapters); a character other than a
    lowercase letter, a digit or `-` is written as its code point, so no pattern can end the
    SQL string. -#}
{% macro ledger_namespace_in_scope(column, patterns=none) -%}
    {%- set patterns = var('excluded_namespaces') if patterns is none else patterns -%}
    {%- if patterns | length == 0 -%}
        true
    {%- else -%}
        {%- set alternatives = [] -%}
        {%- for pattern in patterns -%}
            {%- set pieces = [] -%}
            {%- for piece in (pattern | string).split('*') -%}
                {%- set escaped = [] -%}
                {%- for character in piece -%}
                    {%- if character in 'abcdefghijklmnopqrstuvwxyz0123456789-' -%}
                        {%- do escaped.append(character) -%}
                    {%- else -%}
                        {%- do escaped.append('\\x{' ~ character.encode('utf-32-be').hex() ~ '}') -%}
                    {%- endif -%}
                {%- endfor -%}
                {%- do pieces.append(escaped | join('')) -%}
            {%- endfor -%}
            {%- do alternatives.append('(?:' ~ pieces | join('(?s:.*)') ~ ')') -%}
        {%- endfor -%}
        not {{ ledger_full_match(column, alternatives | join('|')) }}
    {%- endif -%}
{%- endmacro %}


{#- The PED change log in the staging model's shape (every field as written, as text, plus
    arrival_seq, raw_line and parse_error). Locally it is loaded that way from JSON Lines.
    In BigQuery the PED pipeline's table is typed (ped/bigquery.py: INT64, FLOAT64,
    TIMESTAMP) and has no raw_line/parse_error: values become text (changed_at as RFC 3339
    UTC, which the staging parser accepts) and the two missing columns are null. -#}
{% macro ledger_ped_change_rows(relation) -%}
    {{ return(adapter.dispatch('ledger_ped_change_rows', 'replica_ledger')(relation)) }}
{%- endmacro %}
{% macro default__ledger_ped_change_rows(relation) -%}
    select * from {{ relation }}
{%- endmacro %}
{% macro bigquery__ledger_ped_change_rows(relation) -%}
    select
        arrival_seq,
        change_id,
        namespace,
        deployment,
        team,
        cast(min_replicas as string) as min_replicas,
        cast(max_replicas as string) as max_replicas,
        cast(cpu as string) as cpu,
        cast(memory_gb as string) as memory_gb,
        format_timestamp('%Y-%m-%dT%H:%M:%E*SZ', changed_at, 'UTC') as changed_at,
        changed_by,
        action,
        reason,
        to_json_string(t) as raw_line,
        cast(null as string) as parse_error
    from {{ relation }} as t
{%- endmacro %}


{#- `ts_expr` plus `hours` hours, as a timestamp. -#}
{% macro ledger_timestamp_add_hours(ts_expr, hours) -%}
    {{ return(adapter.dispatch('ledger_timestamp_add_hours', 'replica_ledger')(ts_expr, hours)) }}
{%- endmacro %}
{% macro default__ledger_timestamp_add_hours(ts_expr, hours) -%}
    ({{ ts_expr }} + to_hours(cast({{ hours }} as integer)))
{%- endmacro %}
{% macro bigquery__ledger_timestamp_add_hours(ts_expr, hours) -%}
    timestamp_add({{ ts_expr }}, interval {{ hours }} hour)
{%- endmacro %}


{#- Now, UTC, as a TIMESTAMP without time zone (the stamp of a closed statement line). -#}
{% macro ledger_now_utc() -%}
    {{ return(adapter.dispatch('ledger_now_utc', 'replica_ledger')()) }}
{%- endmacro %}
{% macro default__ledger_now_utc() -%}
    cast(timezone('UTC', current_timestamp) as timestamp)
{%- endmacro %}
{% macro bigquery__ledger_now_utc() -%}
    current_timestamp()
{%- endmacro %}

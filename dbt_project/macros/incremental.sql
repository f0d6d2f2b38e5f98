{#- Day-partitioned incremental models, idempotent per run window [D - L, D] (the per-day
    facts a late file or PED row changes, the alerts, the limit edits, the audited peaks).
    BigQuery: insert_overwrite of the window's partitions (static list), so a re-run replaces
    them, and an empty result still clears them.
    DuckDB: append after a pre-hook deletes the same days; same effect in one transaction
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


{#- Static partitions of the run window (BigQuery); none on a full rebuild, meaning "the
    partitions the query yields". A config value: dbt computes it when it parses the model
    (ledger_window_env). -#}
{% macro ledger_run_partitions() -%}
    {%- set values = ledger_window_days(for_config=true) -%}
    {%- if values is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set partitions = [] -%}
    {%- for value in values -%}
        {%- do partitions.append("cast('" ~ value ~ "' as date)") -%}
    {%- endfor -%}
    {{ return(partitions) }}
{%- endmacro %}


{#- Pre-hook: clear the run window before appending (no-op on BigQuery and on first build). -#}
{% macro ledger_clear_run_window(column) -%}
    {{ return(adapter.dispatch('ledger_clear_run_window', 'replica_ledger')(column)) }}
{%- endmacro %}
{% macro default__ledger_clear_run_window(column) -%}
    {%- if execute and is_incremental() -%}
        delete from {{ this }}
        where {{ ledger_window_filter(column) }}
    {%- endif -%}
{%- endmacro %}
{% macro bigquery__ledger_clear_run_window(column) -%}
{%- endmacro %}


{#- The config of a model stored per snapshot day and rebuilt over the run window [D - L, D]
    (the per-day facts, the alerts, the limit edits, the audited peaks): incremental,
    partitioned by snapshot_date and clustered by API. BigQuery overwrites the window's
    partitions; DuckDB deletes them first (pre-hook), then appends. The big facts also
    refuse a query without a partition filter; a small table its readers read whole
    (require_partition_filter=false) does not. Use: {{ config(ledger_window_config()) }}. -#}
{% macro ledger_window_config(require_partition_filter=true) -%}
    {%- set options = {
        'materialized': 'incremental',
        'incremental_strategy': ledger_incremental_strategy(),
        'partition_by': ledger_partition_by('snapshot_date', 'day'),
        'partitions': ledger_run_partitions(),
        'cluster_by': ['namespace', 'deployment'],
        'on_schema_change': 'append_new_columns',
        'pre_hook': "{{ ledger_clear_run_window('snapshot_date') }}",
    } -%}
    {%- if require_partition_filter -%}
        {%- do options.update({'require_partition_filter': ledger_require_partition_filter()}) -%}
    {%- endif -%}
    {{ return(options) }}
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


{#- BigQuery: the big facts refuse queries without a filter on their partition column, so
    a forgotten filter fails instead of scanning every day. DuckDB has no such option. -#}
{% macro ledger_require_partition_filter() -%}
    {{ return(adapter.dispatch('ledger_require_partition_filter', 'replica_ledger')()) }}
{%- endmacro %}
{% macro default__ledger_require_partition_filter() -%}
    {{ return(none) }}
{%- endmacro %}
{% macro bigquery__ledger_require_partition_filter() -%}
    {{ return(true) }}
{%- endmacro %}


{#- "Every partition", said so that BigQuery accepts it on a require_partition_filter table
    (a predicate on the partition column); plain `true` elsewhere. -#}
{% macro ledger_all_partitions(column) -%}
    {{ return(adapter.dispatch('ledger_all_partitions', 'replica_ledger')(column)) }}
{%- endmacro %}
{% macro default__ledger_all_partitions(column) -%}
    true
{%- endmacro %}
{% macro bigquery__ledger_all_partitions(column) -%}
    {{ column }} >= cast('1970-01-01' as date)
{%- endmacro %}


{#- Data tests on BigQuery: a test of a require_partition_filter model reads only the run
    window's partitions (every partition on a full rebuild), on top of the test's own `where`.
    Overrides dbt's get_where_subquery for BigQuery only; DuckDB keeps dbt's default. -#}
{% macro bigquery__get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set partition_column = ledger_required_partition_column(relation) -%}
    {%- if partition_column -%}
        {%- set partition_filter = ledger_window_filter(partition_column) -%}
        {%- set where = '(' ~ where ~ ') and ' ~ partition_filter if where else partition_filter -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}


{#- The partition column of the model behind `relation` if it requires a partition filter. -#}
{% macro ledger_required_partition_column(relation) -%}
    {%- if execute and relation is not string and relation.identifier -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.alias == relation.identifier
                  and node.schema == relation.schema and node.config.get('require_partition_filter') -%}
                {% do return((node.config.get('partition_by') or {}).get('field')) %}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {% do return(none) %}
{%- endmacro %}


{#- A model that became incremental after it was deployed as a plain table: that table lacks
    the partition column, so it is dropped here, while the model compiles, and this run
    builds the model whole (it is derived from the raw tables; nothing is lost). dbt's
    relation cache forgets the table too, so is_incremental() is false from here on. Runs
    only when the table exists: one metadata lookup per run, no query. -#}
{% macro ledger_replace_table_without(column) -%}
    {#- `this` is none in a unit test, where is_incremental() is what the test says; an
        offline compile (--no-introspect) cannot look the table up -#}
    {%- if execute and this is not none and flags.INTROSPECT and is_incremental() -%}
        {#- is_incremental(): the table exists -#}
        {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
        {%- set names = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
        {%- if column not in names -%}
            {{ log("replacing " ~ existing ~ ": built before it had the partition column " ~ column, info=true) }}
            {%- do adapter.drop_relation(existing) -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- is_incremental(), but in an offline compile (--no-introspect: bench/bench_bigquery.py,
    tests/dbt/test_bigquery_compile.py), which cannot look the table up and compiles the
    daily run over an existing table. -#}
{% macro ledger_is_incremental() -%}
    {%- if execute and not flags.INTROSPECT -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(is_incremental()) }}
{%- endmacro %}


{#- The statements ledger upserts a few rows per run: a new version, and the superseded
    one with superseded_at set. DuckDB: delete+insert on the key; BigQuery: merge. -#}
{% macro ledger_upsert_strategy() -%}
    {{ return(adapter.dispatch('ledger_upsert_strategy', 'replica_ledger')()) }}
{%- endmacro %}
{% macro default__ledger_upsert_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}
{% macro bigquery__ledger_upsert_strategy() -%}
    {{ return('merge') }}
{%- endmacro %}

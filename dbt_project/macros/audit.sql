{#- Macros of the audit-log models (intra-day peaks, deploy grace). -#}

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


{#- The deploy grace (REPLICA_LEDGER_DEPLOY_GRACE_HOURS, handed over as the var
    deploy_grace_hours): a whole number of hours, validated here so a malformed value fails
    the compile instead of becoming SQL. -#}
{% macro ledger_deploy_grace_hours() -%}
    {%- set raw = var('deploy_grace_hours') -%}
    {%- if raw is not number or raw < 0 or raw != (raw | int) -%}
        {{ exceptions.raise_compiler_error("deploy_grace_hours must be a whole number of hours >= 0, got " ~ raw) }}
    {%- endif -%}
    {{ return(raw | int) }}
{%- endmacro %}


{#- True when `value_expr`, observed at `at_expr`, is only the old max of a lowered limit
    still waiting for its redeploy: the version in force (alias `grace`, a row of
    int_replica_limits__grace) lowered the max less than the grace hours before, and the
    value is within the previous version's max. -#}
{% macro ledger_in_deploy_grace(grace, value_expr, at_expr) -%}
    coalesce(
        {{ grace }}.grace_until is not null
        and {{ at_expr }} < {{ grace }}.grace_until
        and {{ value_expr }} <= {{ grace }}.previous_max_replicas,
        false
    )
{%- endmacro %}


{#- A breach type's exact string (contract §3, §6), checked against the contract's list
    (the var breach_types, from replica_ledger.contract): a name that drifts from the
    contract fails the compile. -#}
{% macro ledger_breach_type(name) -%}
    {%- if name not in var('breach_types') -%}
        {{ exceptions.raise_compiler_error("unknown breach type " ~ name ~ "; the contract's are " ~ var('breach_types')) }}
    {%- endif -%}
    '{{ name }}'
{%- endmacro %}

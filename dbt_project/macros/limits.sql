{#- The approved limits over time (int_replica_limits__versioned, an SCD2 of PED versions):
    which version is in force at a moment, and the deploy grace of a lowered max. -#}

{#- Join condition: the version of `limits` (a row of int_replica_limits__versioned) in force
    for the API of `rows` at the timestamp `at_expr`. Versions are half-open intervals
    [valid_from, valid_to), valid_to null for the version in force today, so at most one
    version matches. The one rule for "the limit in force at a moment": the daily fact, the
    audited writes and the limit edits all join through it. -#}
{% macro ledger_limit_in_force(limits, rows, at_expr) -%}
    {{ rows }}.namespace = {{ limits }}.namespace
    and {{ rows }}.deployment = {{ limits }}.deployment
    and {{ limits }}.valid_from <= {{ at_expr }}
    and ({{ limits }}.valid_to is null or {{ at_expr }} < {{ limits }}.valid_to)
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
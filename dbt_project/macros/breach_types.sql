{#- A breach type's exact string (contract §3, §6), checked against the contract's list
    (the var breach_types, from replica_ledger.contract): a name that drifts from the
    contract fails the compile. -#}
{% macro ledger_breach_type(name) -%}
    {%- if name not in var('breach_types') -%}
        {{ exceptions.raise_compiler_error("unknown breach type " ~ name ~ "; the contract's are " ~ var('breach_types')) }}
    {%- endif -%}
    '{{ name }}'
{%- endmacro %}

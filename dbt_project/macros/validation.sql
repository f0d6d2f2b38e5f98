{#- Whether the whole text matches a regular expression (RE2 syntax on both adapters);
    null text gives null. Used to check values before they are cast, where a lenient cast
    would round (4.5 -> 5) or accept what the contract refuses (NaN, Infinity). -#}
{% macro ledger_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('ledger_full_match', 'replica_ledger')(expr, pattern)) }}
{%- endmacro %}
{% macro default__ledger_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}
{% macro bigquery__ledger_full_match(expr, pattern) -%}
    regexp_contains({{ expr }}, r'^(?:{{ pattern }})$')
{%- endmacro %}


{#- Patterns of the contract's value rules. JSON text of a number: the local loader keeps a
    number field as its JSON text ("6" the string arrives as '"6"', true as 'true'), and
    BigQuery's typed columns cast to the same shapes (FLOAT64 NaN/inf as 'nan'/'inf'). -#}
{% macro ledger_pattern_json_integer() -%} -?[0-9]+ {%- endmacro %}
{% macro ledger_pattern_json_number() -%} -?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)? {%- endmacro %}
{#- RFC 3339 with a zone, as the Python twin reads it (changelog._RFC3339; a blank around is trimmed first). -#}
{% macro ledger_pattern_rfc3339() -%}
    [0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})
{%- endmacro %}
{#- Kubernetes names: namespace = DNS-1123 label (<= 63), Deployment = DNS-1123 subdomain (<= 253). -#}
{% macro ledger_pattern_dns1123_label() -%} [a-z0-9]([-a-z0-9]*[a-z0-9])? {%- endmacro %}
{% macro ledger_pattern_dns1123_subdomain() -%}
    [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*
{%- endmacro %}

{#- Money is an exact decimal rounded half away from zero to cents (contract §3 "Money").
    DuckDB: DECIMAL(18,2); BigQuery: NUMERIC. -#}

{% macro ledger_type_money() -%}
    {{ return(adapter.dispatch('ledger_type_money', 'replica_ledger')()) }}
{%- endmacro %}
{% macro default__ledger_type_money() -%} decimal(18, 2) {%- endmacro %}
{% macro bigquery__ledger_type_money() -%} numeric {%- endmacro %}


{#- An input number (a rate, cpu, memory_gb) as an exact decimal. Inputs are read with at
    most 6 decimals (DuckDB) / 9 (BigQuery NUMERIC): a double 0.2 becomes exactly 0.2. -#}
{% macro ledger_exact(expr) -%}
    {{ return(adapter.dispatch('ledger_exact', 'replica_ledger')(expr)) }}
{%- endmacro %}
{% macro default__ledger_exact(expr) -%}
    cast({{ expr }} as decimal(18, 6))
{%- endmacro %}
{% macro bigquery__ledger_exact(expr) -%}
    cast({{ expr }} as numeric)
{%- endmacro %}


{#- An exact decimal expression rounded half away from zero to cents, typed as money. -#}
{% macro ledger_money(expr) -%}
    {{ return(adapter.dispatch('ledger_money', 'replica_ledger')(expr)) }}
{%- endmacro %}
{% macro default__ledger_money(expr) -%}
    {#- DuckDB's round() on a DECIMAL rounds half away from zero. -#}
    cast(round(cast({{ expr }} as decimal(38, 12)), 2) as decimal(18, 2))
{%- endmacro %}
{% macro bigquery__ledger_money(expr) -%}
    {#- BigQuery's ROUND on NUMERIC rounds half away from zero. -#}
    cast(round(cast({{ expr }} as bignumeric), 2) as numeric)
{%- endmacro %}


{#- numerator / denominator (exact decimals), rounded half away from zero to cents, typed as
    money. Division is where the adapters differ:
    - DuckDB divides DECIMALs as DOUBLE, so the quotient is done in integers: both operands
      scaled by 10^12 to HUGEINT (the operands have at most 12 decimals: products of two
      6-decimal inputs), then cents = (2|a| x 100 + |b|) // (2|b|) with the sign put back.
    - BigQuery divides BIGNUMERIC exactly to 38 decimals, then ROUND (half away from zero). -#}
{% macro ledger_money_quotient(numerator, denominator) -%}
    {{ return(adapter.dispatch('ledger_money_quotient', 'replica_ledger')(numerator, denominator)) }}
{%- endmacro %}
{% macro default__ledger_money_quotient(numerator, denominator) -%}
    {%- set a -%} cast(cast(({{ numerator }}) as decimal(38, 12)) * 1000000000000 as hugeint) {%- endset -%}
    {%- set b -%} cast(cast(({{ denominator }}) as decimal(38, 12)) * 1000000000000 as hugeint) {%- endset -%}
    cast(
        sign({{ a }}) * sign({{ b }})
        * ((2 * abs({{ a }}) * 100 + abs({{ b }})) // (2 * abs({{ b }})))
        * cast(0.01 as decimal(3, 2))
        as decimal(18, 2)
    )
{%- endmacro %}
{% macro bigquery__ledger_money_quotient(numerator, denominator) -%}
    cast(round(cast(({{ numerator }}) as bignumeric) / cast(({{ denominator }}) as bignumeric), 2) as numeric)
{%- endmacro %}


{#- Money as text with its two decimals ("294.00"), the same on both warehouses (BigQuery
    would print a NUMERIC 294.00 as "294"). -#}
{% macro ledger_money_text(expr) -%}
    {{ return(adapter.dispatch('ledger_money_text', 'replica_ledger')(expr)) }}
{%- endmacro %}
{% macro default__ledger_money_text(expr) -%}
    cast(cast({{ expr }} as decimal(18, 2)) as varchar)
{%- endmacro %}
{% macro bigquery__ledger_money_text(expr) -%}
    format('%.2f', cast({{ expr }} as numeric))
{%- endmacro %}

{#- The monthly charge of one API version (contract §3 "Billing"), written once:
        base_fee + (vcpu_rate x cpu + memory_rate x memory_gb) x max_replicas / replica_divisor
    `rates_alias` names a relation with the columns of the seed billing_rates (the row in
    force, joined by the caller with ledger_rate_in_force). The bill, the prorated amount,
    the exposure (mart_monthly_billing, fct_billing_statements) and the alert's excess cost
    (fct_breach_alerts) all call it, so they never disagree.

    Money (contract §3 "Money"): computed as the exact quotient
        (base_fee x replica_divisor + (vcpu_rate x cpu + memory_rate x memory_gb) x max_replicas)
        / replica_divisor
    rounded half away from zero to cents (macros/money.sql), typed as an exact decimal:
    0.2 vCPU, 1.5 GB, max 7 -> 236.525 -> 236.53. Never a binary float on the way. -#}
{% macro ledger_monthly_charge(cpu, memory_gb, max_replicas, rates_alias='rates') -%}
    {{ ledger_money_quotient(
        ledger_exact(rates_alias ~ '.base_fee') ~ ' * ' ~ ledger_exact(rates_alias ~ '.replica_divisor')
        ~ ' + (' ~ ledger_exact(rates_alias ~ '.vcpu_rate') ~ ' * ' ~ ledger_exact(cpu)
        ~ ' + ' ~ ledger_exact(rates_alias ~ '.memory_rate') ~ ' * ' ~ ledger_exact(memory_gb)
        ~ ') * ' ~ max_replicas,
        ledger_exact(rates_alias ~ '.replica_divisor')
    ) }}
{%- endmacro %}


{#- The seed billing_rates with the end of each row's validity: `effective_to` is the next
    row's `effective_from` (null for the row in force today). Join it with
    ledger_rate_in_force, the one rule for "the rates in force on a day". -#}
{% macro ledger_billing_rates_in_force() -%}
    select
        effective_from,
        lead(effective_from) over (order by effective_from) as effective_to,
        base_fee,
        vcpu_rate,
        memory_rate,
        replica_divisor
    from {{ ref('billing_rates') }}
{%- endmacro %}


{#- Join condition: the row of `rates_alias` (ledger_billing_rates_in_force) in force on
    the date `day_expr`. A month is charged at the rates in force on its first day. -#}
{% macro ledger_rate_in_force(rates_alias, day_expr) -%}
    {{ rates_alias }}.effective_from <= {{ day_expr }}
    and ({{ rates_alias }}.effective_to is null or {{ day_expr }} < {{ rates_alias }}.effective_to)
{%- endmacro %}


{#- What bypassing PED would add to the bill (contract §3 "Exposure"): the charge at the
    observed max with the billed version's cpu and memory, less the bill, never below 0;
    0 when the API was never observed or the line bills no version. The monthly bill
    (mart_monthly_billing) and the team statements (mart_team_statement_lines) call it. -#}
{% macro ledger_exposure_amount(cpu, memory_gb, observed_max_replicas, amount, rates_alias='rates') -%}
    {{ ledger_money(
        'case when ' ~ observed_max_replicas ~ ' is not null and ' ~ cpu ~ ' is not null'
        ~ ' and ' ~ ledger_monthly_charge(cpu, memory_gb, observed_max_replicas, rates_alias) ~ ' > ' ~ amount
        ~ ' then ' ~ ledger_monthly_charge(cpu, memory_gb, observed_max_replicas, rates_alias) ~ ' - ' ~ amount
        ~ ' else 0 end'
    ) }}
{%- endmacro %}

{#- The monthly charge of one API version (contract §3 "Billing"), written once:
        base_fee + (vcpu_rate x cpu + memory_rate x memory_gb) x max_replicas / replica_divisor
    `rates_alias` names a relation with the columns of the seed billing_rates (the row in
    force, chosen by the caller by effective date). Billing (mart_monthly_billing) and the
    alert's excess cost (fct_breach_alerts) both call it, so the two never disagree.
    Unrounded: callers round money to cents where they present it. -#}
{% macro ledger_monthly_charge(cpu, memory_gb, max_replicas, rates_alias='rates') -%}
    (
        {{ rates_alias }}.base_fee
        + ({{ rates_alias }}.vcpu_rate * {{ cpu }} + {{ rates_alias }}.memory_rate * {{ memory_gb }})
        * {{ max_replicas }} / {{ rates_alias }}.replica_divisor
    )
{%- endmacro %}


{#- The seed billing_rates with the end of each row's validity: `effective_to` is the next
    row's `effective_from` (null for the row in force today). Join on
    `effective_from <= day and (effective_to is null or day < effective_to)`. -#}
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

-- depends_on: {{ ref('int_snapshot_expectations') }}
{{ config(
    materialized='incremental',
    full_refresh=false,
    incremental_strategy=ledger_upsert_strategy(),
    unique_key=['billing_month', 'namespace', 'deployment', 'statement_version'],
    partition_by=ledger_partition_by('billing_month', 'month'),
    cluster_by=['namespace', 'deployment'],
    on_schema_change='append_new_columns',
) }}

-- The statements ledger (contract §5 "Statements are never rewritten"): every version of
-- every closed line. full_refresh=false: `dbt build --full-refresh` keeps it. A run writes
--   - version 1 of each line of a month it closes (no line of that month yet);
--   - version n+1 of a closed line whose line computed today (int_billing_lines) differs
--     in team, billed max, cpu, memory or amount, with the cause in restatement_reason,
--     and version n again with superseded_at set (its other columns as stored);
--   - nothing for an unchanged line.
-- A line whose API is no longer billed for a closed month gets a version with amount 0.
{%- set now = ledger_now_utc() %}
{#- `dbt compile --no-introspect` (the offline BigQuery check) cannot ask whether the table
    exists; it compiles the incremental branch, the one every run but the first uses. -#}
{%- set incremental = is_incremental() if flags.INTROSPECT else true %}
{%- set str = ledger_type_string() %}

with computed as (
    -- A month with no rate in force fails billing_month_without_rate_in_force first.
    select * from {{ ref('int_billing_lines') }}
    where amount is not null
),

{%- if not incremental %}

written as (
    select
        billing_month,
        namespace,
        deployment,
        team,
        1 as statement_version,
        billed_max_replicas,
        cpu,
        memory_gb,
        amount,
        billed_change_id,
        rate_effective_from,
        {{ now }} as closed_at,
        cast(null as timestamp) as superseded_at,
        cast(null as {{ str }}) as restatement_reason
    from computed
)

{%- else %}

closable as (
    {{ ledger_closable_months() }}
),

current_lines as (
    select * from {{ this }}
    where superseded_at is null
),

closed_months as (
    select distinct billing_month from current_lines
),

compared as (
    select
        coalesce(computed.billing_month, current_lines.billing_month) as billing_month,
        coalesce(computed.namespace, current_lines.namespace) as namespace,
        coalesce(computed.deployment, current_lines.deployment) as deployment,
        computed.team,
        computed.billed_max_replicas,
        computed.cpu,
        computed.memory_gb,
        computed.amount,
        computed.billed_change_id,
        computed.rate_effective_from,
        current_lines.team as current_team,
        current_lines.statement_version as current_version,
        current_lines.amount as current_amount,
        current_lines.billed_change_id as current_change_id,
        case
            when current_lines.billing_month is null then 'new'
            -- A removal version (billed_max_replicas null) stays as it is.
            when computed.billing_month is null and current_lines.billed_max_replicas is null then 'unchanged'
            when computed.billing_month is null then 'removed'
            when
                computed.team is distinct from current_lines.team
                or computed.billed_max_replicas is distinct from current_lines.billed_max_replicas
                or computed.cpu is distinct from current_lines.cpu
                or computed.memory_gb is distinct from current_lines.memory_gb
                or computed.amount is distinct from current_lines.amount
                then 'changed'
            else 'unchanged'
        end as change_kind
    from computed
    full outer join current_lines
        on
            computed.billing_month = current_lines.billing_month
            and computed.namespace = current_lines.namespace
            and computed.deployment = current_lines.deployment
    where coalesce(computed.billing_month, current_lines.billing_month) in (select billing_month from closable)
),

new_versions as (
    select
        compared.billing_month,
        compared.namespace,
        compared.deployment,
        coalesce(compared.team, compared.current_team) as team,
        coalesce(compared.current_version, 0) + 1 as statement_version,
        compared.billed_max_replicas,
        compared.cpu,
        compared.memory_gb,
        coalesce(compared.amount, cast(0 as {{ ledger_type_money() }})) as amount,
        compared.billed_change_id,
        compared.rate_effective_from,
        {{ now }} as closed_at,
        cast(null as timestamp) as superseded_at,
        case
            when compared.change_kind = 'new' and closed_months.billing_month is null then cast(null as {{ str }})
            when compared.change_kind = 'new'
                then 'line added after the month closed: PED change ' || compared.billed_change_id
            when compared.change_kind = 'removed'
                then 'no approved version in force in the month any more (was PED change '
                    || compared.current_change_id || ')'
            when compared.billed_change_id is distinct from compared.current_change_id
                then 'billed version changed by PED change ' || compared.billed_change_id
                    || ' (was ' || coalesce(compared.current_change_id, 'none') || ')'
            else 'rate correction: billing_rates effective '
                || cast(compared.rate_effective_from as {{ str }})
                || ' give ' || {{ ledger_money_text('compared.amount') }}
                || ' (was ' || {{ ledger_money_text('compared.current_amount') }} || ')'
        end as restatement_reason
    from compared
    left join closed_months
        on compared.billing_month = closed_months.billing_month
    where compared.change_kind != 'unchanged'
),

superseded as (
    select
        current_lines.billing_month,
        current_lines.namespace,
        current_lines.deployment,
        current_lines.team,
        current_lines.statement_version,
        current_lines.billed_max_replicas,
        current_lines.cpu,
        current_lines.memory_gb,
        current_lines.amount,
        current_lines.billed_change_id,
        current_lines.rate_effective_from,
        current_lines.closed_at,
        {{ now }} as superseded_at,
        current_lines.restatement_reason
    from current_lines
    inner join compared
        on
            current_lines.billing_month = compared.billing_month
            and current_lines.namespace = compared.namespace
            and current_lines.deployment = compared.deployment
    where compared.change_kind in ('changed', 'removed')
),

written as (
    select * from new_versions
    union all
    select * from superseded
)

{%- endif %}

select
    billing_month,
    namespace,
    deployment,
    team,
    statement_version,
    billed_max_replicas,
    cpu,
    memory_gb,
    amount,
    closed_at,
    superseded_at,
    restatement_reason,
    billed_change_id,
    rate_effective_from
from written

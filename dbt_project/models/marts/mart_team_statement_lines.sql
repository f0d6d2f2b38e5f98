{{ config(
    materialized='table',
    partition_by=ledger_partition_by('billing_month', 'month'),
    cluster_by=['team', 'namespace', 'deployment'],
) }}

-- The lines of every version of every team's monthly statement (contract §7), from the
-- statements ledger. A team's statement for a month changes whenever one of its lines is
-- written (closed_at) or superseded (superseded_at, e.g. a line moved to another team):
-- each such moment, in order, is the team's version 1, 2, ... The lines of a version are
-- the team's lines in force at that moment (closed by then, not superseded by then), and
-- the lines of the previous version that are gone from it ('removed', amount null).
-- change_kind compares each line with the previous team version: 'closed' (version 1),
-- 'added', 'restated', 'unchanged', 'removed'. The formula's rates are the billing_rates
-- row the line was charged at; observed_max_replicas and the exposure are the month's as
-- known when the marts were built (a written statement file keeps the values of its day).
with statements as (
    select * from {{ ref('fct_billing_statements') }}
),

rates as (
    {{ ledger_billing_rates_in_force() }}
),

observed as (
    select
        billing_month,
        namespace,
        deployment,
        observed_max_replicas,
        prorated_amount
    from {{ ref('mart_monthly_billing') }}
),

episodes as (
    -- The month's breach episodes of each API: those seen on a day of the month.
    select
        months.billing_month,
        episodes.namespace,
        episodes.deployment,
        count(*) as breach_episodes
    from (select distinct billing_month from statements) as months
    inner join {{ ref('fct_breach_episodes') }} as episodes
        on
            episodes.started_on < {{ ledger_month_add('months.billing_month', 1) }}
            and episodes.last_seen_on >= months.billing_month
    group by 1, 2, 3
),

moments as (
    select distinct
        billing_month,
        team,
        version_at
    from (
        select
            billing_month,
            team,
            closed_at as version_at
        from statements
        union all
        select
            billing_month,
            team,
            superseded_at as version_at
        from statements
        where superseded_at is not null
    ) as changes
    where team is not null
),

team_versions as (
    select
        billing_month,
        team,
        version_at,
        row_number() over (partition by billing_month, team order by version_at) as team_version
    from moments
),

in_force as (
    select
        team_versions.billing_month,
        team_versions.team,
        team_versions.team_version,
        team_versions.version_at,
        statements.namespace,
        statements.deployment,
        statements.statement_version,
        statements.billed_max_replicas,
        statements.cpu,
        statements.memory_gb,
        statements.amount,
        statements.restatement_reason,
        statements.billed_change_id,
        statements.rate_effective_from
    from team_versions
    inner join statements
        on
            statements.billing_month = team_versions.billing_month
            and statements.team = team_versions.team
            and statements.closed_at <= team_versions.version_at
            and (statements.superseded_at is null or statements.superseded_at > team_versions.version_at)
),

previous_in_force as (
    select
        *,
        team_version + 1 as next_version
    from in_force
),

compared as (
    select
        coalesce(current_lines.billing_month, previous_lines.billing_month) as billing_month,
        coalesce(current_lines.team, previous_lines.team) as team,
        coalesce(current_lines.team_version, previous_lines.next_version) as team_version,
        coalesce(current_lines.namespace, previous_lines.namespace) as namespace,
        coalesce(current_lines.deployment, previous_lines.deployment) as deployment,
        current_lines.statement_version,
        current_lines.billed_max_replicas,
        current_lines.cpu,
        current_lines.memory_gb,
        current_lines.amount,
        current_lines.restatement_reason,
        current_lines.billed_change_id,
        current_lines.rate_effective_from,
        previous_lines.amount as previous_amount,
        previous_lines.statement_version as previous_statement_version,
        case
            when current_lines.namespace is null then 'removed'
            when current_lines.team_version = 1 then 'closed'
            when previous_lines.namespace is null then 'added'
            when current_lines.statement_version != previous_lines.statement_version then 'restated'
            else 'unchanged'
        end as change_kind
    from in_force as current_lines
    full outer join previous_in_force as previous_lines
        on
            current_lines.billing_month = previous_lines.billing_month
            and current_lines.team = previous_lines.team
            and current_lines.team_version = previous_lines.next_version
            and current_lines.namespace = previous_lines.namespace
            and current_lines.deployment = previous_lines.deployment
)

select
    compared.billing_month,
    compared.team,
    compared.team_version,
    team_versions.version_at,
    compared.namespace,
    compared.deployment,
    compared.change_kind,
    compared.statement_version,
    compared.billed_max_replicas,
    compared.cpu,
    compared.memory_gb,
    compared.amount,
    compared.previous_amount,
    compared.previous_statement_version,
    observed.prorated_amount,
    observed.observed_max_replicas,
    case
        when compared.change_kind = 'removed' then cast(null as {{ ledger_type_money() }})
        else {{ ledger_exposure_amount(
            'compared.cpu', 'compared.memory_gb', 'observed.observed_max_replicas', 'compared.amount', 'rates'
        ) }}
    end as unapproved_exposure_amount,
    compared.restatement_reason,
    compared.billed_change_id,
    compared.rate_effective_from,
    rates.base_fee,
    rates.vcpu_rate,
    rates.memory_rate,
    rates.replica_divisor,
    coalesce(episodes.breach_episodes, 0) as breach_episodes
from compared
-- The previous version's lines after the team's last version are not a version.
inner join team_versions
    on
        compared.billing_month = team_versions.billing_month
        and compared.team = team_versions.team
        and compared.team_version = team_versions.team_version
left join rates
    on compared.rate_effective_from = rates.effective_from
left join observed
    on
        compared.billing_month = observed.billing_month
        and compared.namespace = observed.namespace
        and compared.deployment = observed.deployment
left join episodes
    on
        compared.billing_month = episodes.billing_month
        and compared.namespace = episodes.namespace
        and compared.deployment = episodes.deployment

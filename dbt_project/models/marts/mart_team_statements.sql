{{ config(
    materialized='table',
    partition_by=ledger_partition_by('billing_month', 'month'),
    cluster_by=['team'],
) }}

-- One row per version of each team's monthly statement (contract §7): what the statement
-- file's header and the Slack message at the close say. Totals of the version's lines
-- (mart_team_statement_lines, removed lines left out), the total of the version before,
-- and the team's total for the month before as it stood at this version's moment (its
-- latest version by then; null when the team had no statement that month).
with lines as (
    select * from {{ ref('mart_team_statement_lines') }}
),

versions as (
    select
        billing_month,
        team,
        team_version,
        max(version_at) as version_at,
        sum(case when change_kind != 'removed' then 1 else 0 end) as api_count,
        coalesce(
            sum(case when change_kind != 'removed' then amount end), cast(0 as {{ ledger_type_money() }})
        ) as total_amount,
        coalesce(
            sum(case when change_kind != 'removed' then unapproved_exposure_amount end),
            cast(0 as {{ ledger_type_money() }})
        ) as total_exposure_amount,
        sum(case when change_kind in ('added', 'restated', 'removed') then 1 else 0 end) as changed_lines,
        sum(case when change_kind != 'removed' then breach_episodes else 0 end) as breach_episodes
    from lines
    group by billing_month, team, team_version
),

with_previous as (
    select
        *,
        lag(total_amount) over (partition by billing_month, team order by team_version) as previous_version_total
    from versions
),

month_before as (
    -- For each version, the team's versions of the month before written by then; the latest wins.
    select
        with_previous.billing_month,
        with_previous.team,
        with_previous.team_version,
        earlier.total_amount,
        row_number() over (
            partition by with_previous.billing_month, with_previous.team, with_previous.team_version
            order by earlier.team_version desc
        ) as recency
    from with_previous
    inner join versions as earlier
        on
            earlier.team = with_previous.team
            and earlier.billing_month = {{ ledger_month_add('with_previous.billing_month', -1) }}
            and earlier.version_at <= with_previous.version_at
)

select
    with_previous.billing_month,
    with_previous.team,
    with_previous.team_version,
    with_previous.version_at,
    with_previous.team_version > 1 as is_restatement,
    with_previous.api_count,
    with_previous.total_amount,
    with_previous.total_exposure_amount,
    with_previous.previous_version_total,
    month_before.total_amount as previous_month_total,
    with_previous.changed_lines,
    with_previous.breach_episodes
from with_previous
left join month_before
    on
        with_previous.billing_month = month_before.billing_month
        and with_previous.team = month_before.team
        and with_previous.team_version = month_before.team_version
        and month_before.recency = 1

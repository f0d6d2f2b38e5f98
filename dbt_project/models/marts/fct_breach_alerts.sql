{{ config(ledger_window_config()) }}

-- What the Slack alert of snapshot day D says: every breach episode that is new on D
-- (started on D), open on D (started before, and D's snapshot still shows it) or resolved
-- on D (D is the first snapshot day without it), with the excess's monthly cost priced by
-- the same charge macro as the bill. A run stores every day of its window [D - L, D], like
-- the per-day facts: a late file that reveals an episode which started and ended before D
-- adds that episode's rows to the days it covers, and the alert task reads back as far as
-- alerts may go (alerts/read_model.py). Each day's columns are as of that day, from what
-- the run knows, so a re-run and a full rebuild give the same rows. Which episodes a
-- route has already heard of is the alert_log ledger's business. Each row also says who crossed
-- the limit (the audit log's edit, fct_limit_edits) and whether PED approved a change of
-- the API that same day; null when no audit source is configured or no edit crossed it.
with alert_days as (
    -- The days of the run window the pipeline has processed (every one on a full rebuild).
    select distinct snapshot_date
    from {{ ref('stg_k8s__snapshot_manifest') }}
    where {{ ledger_window_filter('snapshot_date') }}
),

episodes as (
    select * from {{ ref('fct_breach_episodes') }}
),

breaches_of_day as (
    -- Each day's breach conditions: the rows fct_replica_breaches stores for the window,
    -- read from the same source so this model reaches the facts only through the episodes.
    select * from {{ ref('int_breach_conditions') }}
    where {{ ledger_window_filter('snapshot_date') }}
),

rates as (
    {{ ledger_billing_rates_in_force() }}
),

episodes_of_day as (
    -- Episodes are half-open [started_on, ended_on) in snapshot days.
    select
        alert_days.snapshot_date,
        episodes.*,
        case
            when episodes.started_on = alert_days.snapshot_date then 'new'
            when episodes.ended_on = alert_days.snapshot_date then 'resolved'
            else 'open'
        end as episode_status
    from alert_days
    inner join episodes
        on
            episodes.started_on <= alert_days.snapshot_date
            and (episodes.ended_on is null or episodes.ended_on >= alert_days.snapshot_date)
),

observed as (
    -- The day's own breach row (new, open); for an episode resolved on D, its last day
    -- seen (before D). An open episode whose cluster has no snapshot on D is not listed
    -- that day: nothing is said about a day without a snapshot.
    select
        episodes_of_day.snapshot_date,
        episodes_of_day.cluster,
        episodes_of_day.namespace,
        episodes_of_day.deployment,
        coalesce(breaches_of_day.team, episodes_of_day.team) as team,
        episodes_of_day.breach_type,
        episodes_of_day.episode_id,
        episodes_of_day.started_on as episode_started_on,
        episodes_of_day.episode_status,
        case
            when breaches_of_day.snapshot_date is not null then breaches_of_day.observed_value
            else episodes_of_day.last_observed_value
        end as observed_value,
        case
            when breaches_of_day.snapshot_date is not null then breaches_of_day.approved_max_replicas
            else episodes_of_day.last_approved_max_replicas
        end as approved_max_replicas,
        case
            when breaches_of_day.snapshot_date is not null then breaches_of_day.cpu
            else episodes_of_day.cpu
        end as cpu,
        case
            when breaches_of_day.snapshot_date is not null then breaches_of_day.memory_gb
            else episodes_of_day.memory_gb
        end as memory_gb,
        -- The Deployment's HPA on D, named in the alert's kubectl command; null for a
        -- resolved episode (nothing left to put back).
        breaches_of_day.hpa_name
    from episodes_of_day
    left join breaches_of_day
        on
            episodes_of_day.snapshot_date = breaches_of_day.snapshot_date
            and episodes_of_day.cluster = breaches_of_day.cluster
            and episodes_of_day.namespace = breaches_of_day.namespace
            and episodes_of_day.deployment = breaches_of_day.deployment
            and episodes_of_day.breach_type = breaches_of_day.breach_type
    where episodes_of_day.episode_status = 'resolved' or breaches_of_day.snapshot_date is not null
),

episode_starts as (
    -- The moment each episode became visible: the capture of the snapshot of its first day
    -- (a day without a believed capture time is judged at its end).
    select
        observed.*,
        coalesce(
            manifest.captured_at,
            {{ ledger_day_start_ts(ledger_date_add('observed.episode_started_on', 1)) }}
        ) as episode_seen_at
    from observed
    left join {{ ref('stg_k8s__snapshot_manifest') }} as manifest
        on
            observed.episode_started_on = manifest.snapshot_date
            and observed.cluster = manifest.cluster
),

crossing_edits as (
    -- Who crossed the limit: the last edit by a person or a pipeline (fct_limit_edits)
    -- before the episode became visible that took the value from at most the approved max
    -- in force at that moment (or from an unknown value) to above it. For an HPA max
    -- episode, an edit of the HPA max; for the others, either field (a raised HPA max is
    -- what lets the controller scale above the limit). An unregistered Deployment has no
    -- limit to cross.
    select
        episode_starts.snapshot_date,
        episode_starts.cluster,
        episode_starts.namespace,
        episode_starts.deployment,
        episode_starts.breach_type,
        edits.changed_at,
        edits.principal,
        edits.tool,
        edits.field,
        edits.from_value,
        edits.to_value,
        row_number() over (
            partition by
                episode_starts.snapshot_date, episode_starts.cluster, episode_starts.namespace,
                episode_starts.deployment, episode_starts.breach_type
            order by edits.changed_at desc, edits.audit_id desc
        ) as recency
    from episode_starts
    inner join {{ ref('fct_limit_edits') }} as edits
        on
            episode_starts.cluster = edits.cluster
            and episode_starts.namespace = edits.namespace
            and episode_starts.deployment = edits.deployment
            and edits.changed_at <= episode_starts.episode_seen_at
            and edits.approved_max_replicas is not null
            and edits.to_value > edits.approved_max_replicas
            and (edits.from_value is null or edits.from_value <= edits.approved_max_replicas)
            and (
                episode_starts.breach_type != {{ ledger_breach_type('hpa_max_over_limit') }}
                or edits.field = 'max_replicas'
            )
    where episode_starts.breach_type != {{ ledger_breach_type('unregistered_deployment') }}
),

same_day_approvals as (
    -- A PED change of the API approved on the day of that edit (UTC), known when the
    -- episode became visible: an approval just before the edit is a deploy lag, not a
    -- bypass. The latest of the day.
    select
        crossing_edits.snapshot_date,
        crossing_edits.cluster,
        crossing_edits.namespace,
        crossing_edits.deployment,
        crossing_edits.breach_type,
        versions.valid_from as approved_at,
        versions.max_replicas,
        versions.change_id,
        row_number() over (
            partition by
                crossing_edits.snapshot_date, crossing_edits.cluster, crossing_edits.namespace,
                crossing_edits.deployment, crossing_edits.breach_type
            order by versions.valid_from desc, versions.change_id desc
        ) as recency
    from crossing_edits
    inner join episode_starts
        on
            crossing_edits.snapshot_date = episode_starts.snapshot_date
            and crossing_edits.cluster = episode_starts.cluster
            and crossing_edits.namespace = episode_starts.namespace
            and crossing_edits.deployment = episode_starts.deployment
            and crossing_edits.breach_type = episode_starts.breach_type
    inner join {{ ref('int_replica_limits__versioned') }} as versions
        on
            crossing_edits.namespace = versions.namespace
            and crossing_edits.deployment = versions.deployment
            and cast(versions.valid_from as date) = cast(crossing_edits.changed_at as date)
            and versions.valid_from <= episode_starts.episode_seen_at
    where crossing_edits.recency = 1
),

attributed as (
    select
        episode_starts.*,
        crossing_edits.principal as crossed_by,
        crossing_edits.tool as crossed_with,
        crossing_edits.changed_at as crossed_at,
        crossing_edits.field as crossed_field,
        crossing_edits.from_value as crossed_from_value,
        crossing_edits.to_value as crossed_to_value,
        same_day_approvals.approved_at as ped_approved_at,
        same_day_approvals.max_replicas as ped_approved_max_replicas,
        same_day_approvals.change_id as ped_change_id
    from episode_starts
    left join crossing_edits
        on
            episode_starts.snapshot_date = crossing_edits.snapshot_date
            and episode_starts.cluster = crossing_edits.cluster
            and episode_starts.namespace = crossing_edits.namespace
            and episode_starts.deployment = crossing_edits.deployment
            and episode_starts.breach_type = crossing_edits.breach_type
            and crossing_edits.recency = 1
    left join same_day_approvals
        on
            episode_starts.snapshot_date = same_day_approvals.snapshot_date
            and episode_starts.cluster = same_day_approvals.cluster
            and episode_starts.namespace = same_day_approvals.namespace
            and episode_starts.deployment = same_day_approvals.deployment
            and episode_starts.breach_type = same_day_approvals.breach_type
            and same_day_approvals.recency = 1
)

select
    {{ ledger_fingerprint([
        'attributed.snapshot_date', 'attributed.cluster', 'attributed.namespace',
        'attributed.deployment', 'attributed.breach_type', 'attributed.episode_started_on'
    ]) }} as breach_alert_id,
    attributed.snapshot_date,
    attributed.cluster,
    attributed.namespace,
    attributed.deployment,
    attributed.team,
    attributed.breach_type,
    attributed.episode_id,
    attributed.episode_started_on,
    attributed.episode_status,
    attributed.observed_value,
    attributed.approved_max_replicas,
    attributed.cpu,
    attributed.memory_gb,
    case
        when attributed.approved_max_replicas is not null
            then greatest(attributed.observed_value - attributed.approved_max_replicas, 0)
    end as excess_replicas,
    -- The bill at the observed count minus the bill at the approved max: what the excess
    -- would add to the month. Null for an unregistered API (no approved max, no price).
    -- Both charges are money (exact cents), so the difference is exact too.
    {{ ledger_money(
        ledger_monthly_charge(
            'attributed.cpu', 'attributed.memory_gb',
            'greatest(attributed.observed_value, attributed.approved_max_replicas)', 'rates'
        )
        ~ ' - ' ~ ledger_monthly_charge('attributed.cpu', 'attributed.memory_gb', 'attributed.approved_max_replicas', 'rates')
    ) }} as excess_monthly_cost,
    attributed.episode_seen_at,
    attributed.crossed_by,
    attributed.crossed_with,
    attributed.crossed_at,
    attributed.crossed_field,
    attributed.crossed_from_value,
    attributed.crossed_to_value,
    attributed.ped_approved_at,
    attributed.ped_approved_max_replicas,
    attributed.ped_change_id,
    attributed.hpa_name
from attributed
left join rates
    on {{ ledger_rate_in_force('rates', 'attributed.snapshot_date') }}

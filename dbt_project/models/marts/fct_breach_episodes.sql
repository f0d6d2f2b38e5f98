-- One row per breach episode: consecutive snapshot days of one (cluster, API, breach type)
-- showing the breach, where days without a snapshot do not interrupt it. An episode ends
-- on the first later snapshot day of its cluster that does not show the breach.
with breaches as (
    select * from {{ ref('fct_replica_breaches') }}
    where {{ ledger_all_partitions('snapshot_date') }}
),

numbered as (
    select
        *,
        sum(case when is_new_episode then 1 else 0 end) over (
            partition by cluster, namespace, deployment, breach_type
            order by snapshot_date
            rows between unbounded preceding and current row
        ) as episode_number
    from breaches
),

episodes as (
    select
        cluster,
        namespace,
        deployment,
        breach_type,
        episode_number,
        min(snapshot_date) as started_on,
        max(snapshot_date) as last_seen_on,
        count(*) as breach_days,
        max(observed_value) as max_observed_value
    from numbered
    group by cluster, namespace, deployment, breach_type, episode_number
),

snapshot_days as (
    select
        snapshot_date,
        cluster
    from {{ ref('int_snapshot_expectations') }}
    where has_snapshot
),

endings as (
    select
        episodes.cluster,
        episodes.namespace,
        episodes.deployment,
        episodes.breach_type,
        episodes.episode_number,
        min(snapshot_days.snapshot_date) as ended_on
    from episodes
    inner join snapshot_days
        on
            episodes.cluster = snapshot_days.cluster
            and snapshot_days.snapshot_date > episodes.last_seen_on
    group by
        episodes.cluster, episodes.namespace, episodes.deployment,
        episodes.breach_type, episodes.episode_number
)

select
    {{ ledger_fingerprint([
        'episodes.cluster', 'episodes.namespace', 'episodes.deployment',
        'episodes.breach_type', 'episodes.started_on'
    ]) }} as episode_id,
    episodes.cluster,
    episodes.namespace,
    episodes.deployment,
    latest.team,
    episodes.breach_type,
    episodes.started_on,
    episodes.last_seen_on,
    endings.ended_on,
    endings.ended_on is null as is_open,
    episodes.breach_days,
    episodes.max_observed_value,
    latest.observed_value as last_observed_value,
    latest.approved_max_replicas as last_approved_max_replicas,
    latest.cpu,
    latest.memory_gb
from episodes
inner join numbered as latest
    on
        episodes.cluster = latest.cluster
        and episodes.namespace = latest.namespace
        and episodes.deployment = latest.deployment
        and episodes.breach_type = latest.breach_type
        and episodes.last_seen_on = latest.snapshot_date
left join endings
    on
        episodes.cluster = endings.cluster
        and episodes.namespace = endings.namespace
        and episodes.deployment = endings.deployment
        and episodes.breach_type = endings.breach_type
        and episodes.episode_number = endings.episode_number

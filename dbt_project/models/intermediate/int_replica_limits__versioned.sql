-- SCD2 history of approved limits, rebuilt deterministically from the whole change log
-- on every run (not a dbt snapshot), so any backfill replays exactly.
-- Each accepted change opens a version at changed_at; the next change of the same API
-- (upsert or delete) closes it. A delete opens nothing. Ties on changed_at are broken by
-- arrival order; the earlier one then spans zero time and yields no version.
with accepted as (
    select * from {{ ref('int_limit_changes__validated') }}
    where validation_status = 'accepted'
),

sequenced as (
    select
        *,
        lead(changed_at) over (
            partition by namespace, deployment order by changed_at, arrival_seq
        ) as next_changed_at,
        row_number() over (
            partition by namespace, deployment order by changed_at, arrival_seq
        ) as change_number
    from accepted
)

select
    change_id,
    namespace,
    deployment,
    team,
    min_replicas,
    max_replicas,
    cpu,
    memory_gb,
    changed_at as valid_from,
    next_changed_at as valid_to,
    next_changed_at is null as is_current,
    change_number,
    changed_by,
    reason
from sequenced
where
    action = 'upsert'
    and (next_changed_at is null or next_changed_at > changed_at)

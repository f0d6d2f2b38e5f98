-- Every change row with its verdict. The rules of contract §3 "Bad change rows":
-- a row is used only if it parses, has every required field, a known action, a max within
-- the platform's bounds and not below the min, and its change_id was not taken first by
-- different content. The bounds and the default min are vars set from replica_ledger.contract.
with changes as (
    select * from {{ ref('stg_ped__limit_changes') }}
),

ranked as (
    select
        *,
        row_number() over (partition by change_id order by arrival_seq) as change_id_rank,
        first_value(content_fingerprint) over (
            partition by change_id order by arrival_seq
            rows between unbounded preceding and unbounded following
        ) as first_fingerprint
    from changes
),

typed as (
    select
        *,
        coalesce(team_raw, namespace) as team,
        coalesce(
            min_replicas_value, case when min_replicas_raw is null then {{ var('default_min_replicas') }} end
        ) as min_replicas,
        max_replicas_value as max_replicas,
        cpu_value as cpu,
        memory_gb_value as memory_gb,
        action = 'upsert' as is_upsert
    from ranked
),

judged as (
    select
        *,
        case
            when parse_error is not null then 'malformed_json'
            when change_id is null then 'missing_field:change_id'
            when change_id_rank > 1 and content_fingerprint = first_fingerprint then null
            when change_id_rank > 1 then 'conflicting_duplicate_change_id'
            when namespace is null then 'missing_field:namespace'
            when deployment is null then 'missing_field:deployment'
            when changed_at_raw is null then 'missing_field:changed_at'
            when action is null then 'missing_field:action'
            when action not in ('upsert', 'delete') then 'unknown_action'
            when changed_at is null then 'invalid_changed_at'
            when is_upsert and max_replicas_raw is null then 'missing_field:max_replicas'
            when is_upsert and cpu_raw is null then 'missing_field:cpu'
            when is_upsert and memory_gb_raw is null then 'missing_field:memory_gb'
            when is_upsert and max_replicas is null then 'invalid_max_replicas'
            when is_upsert and min_replicas is null then 'invalid_min_replicas'
            when
                is_upsert
                and (
                    max_replicas < {{ var('platform_min_replicas') }}
                    or max_replicas > {{ var('platform_max_replicas') }}
                )
                then 'max_replicas_out_of_range'
            when is_upsert and max_replicas < min_replicas then 'max_replicas_below_min_replicas'
            when is_upsert and (cpu is null or cpu <= 0) then 'invalid_cpu'
            when is_upsert and (memory_gb is null or memory_gb <= 0) then 'invalid_memory_gb'
        end as quarantine_reason
    from typed
)

select
    arrival_seq,
    change_id,
    namespace,
    deployment,
    team,
    min_replicas,
    max_replicas,
    cpu,
    memory_gb,
    changed_at,
    changed_by,
    action,
    reason,
    quarantine_reason,
    case
        when quarantine_reason is not null then 'quarantined'
        when change_id_rank > 1 then 'duplicate_noop'
        else 'accepted'
    end as validation_status,
    case quarantine_reason
        when 'malformed_json' then parse_error
        when 'max_replicas_out_of_range'
            then
                'max_replicas '
                || max_replicas_raw
                || ' is outside {{ var('platform_min_replicas') }}..{{ var('platform_max_replicas') }}'
        when 'max_replicas_below_min_replicas'
            then
                'max_replicas '
                || max_replicas_raw
                || ' is below min_replicas '
                || cast(min_replicas as {{ ledger_type_string() }})
        when 'invalid_max_replicas' then 'max_replicas ' || max_replicas_raw || ' is not an integer'
        when 'invalid_min_replicas' then 'min_replicas ' || min_replicas_raw || ' is not an integer'
        when 'invalid_cpu' then 'cpu ' || coalesce(cpu_raw, 'null') || ' is not a positive number'
        when 'invalid_memory_gb' then 'memory_gb ' || coalesce(memory_gb_raw, 'null') || ' is not a positive number'
        when 'invalid_changed_at' then 'changed_at ' || changed_at_raw || ' is not an RFC 3339 timestamp with a zone'
        when 'unknown_action' then 'action ' || action || ' is not upsert or delete'
        when 'conflicting_duplicate_change_id'
            then 'change_id ' || change_id || ' was first used by an earlier row with different content'
    end as quarantine_detail,
    max_replicas_raw,
    raw_line
from judged

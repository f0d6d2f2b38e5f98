-- Every change row with its verdict. The rules of contract §3 "Bad change rows" and
-- "Numbers in change rows": a row is used only if it parses, has every required field, valid
-- Kubernetes names, a known action, integer replica counts with the max within the
-- platform's bounds and not below the min, a finite cpu and memory_gb above 0 (and below
-- the pod ceilings), and its change_id was not taken first by different content. Numbers
-- are checked on their text before the cast: a lenient cast would bill 4.5 as 5, "6" as 6
-- and NaN as NaN. The bounds, the default min and the ceilings are vars set from
-- replica_ledger.contract.
with changes as (
    select * from {{ ref('stg_ped__limit_changes') }}
),

checked as (
    select
        *,
        case
            when {{ ledger_full_match('min_replicas_raw', ledger_pattern_json_integer()) }} then min_replicas_value
        end as min_replicas_checked,
        case
            when {{ ledger_full_match('max_replicas_raw', ledger_pattern_json_integer()) }} then max_replicas_value
        end as max_replicas_checked,
        case
            when
                {{ ledger_full_match('cpu_raw', ledger_pattern_json_number()) }}
                and cpu_value > 0 and cpu_value <= {{ var('max_pod_cpu') }}
                then cpu_value
        end as cpu_checked,
        case
            when
                {{ ledger_full_match('memory_gb_raw', ledger_pattern_json_number()) }}
                and memory_gb_value > 0 and memory_gb_value <= {{ var('max_pod_memory_gb') }}
                then memory_gb_value
        end as memory_gb_checked,
        length(namespace) <= 63
        and {{ ledger_full_match('namespace', ledger_pattern_dns1123_label()) }} as is_valid_namespace,
        length(deployment) <= 253
        and {{ ledger_full_match('deployment', ledger_pattern_dns1123_subdomain()) }} as is_valid_deployment
    from changes
),

-- The content two rows with the same change_id are compared in: values, not spellings
-- (cpu 2 and 2.0 are the same; so are a missing team and the namespace it defaults to).
fingerprinted as (
    select
        *,
        {{ ledger_fingerprint([
            'namespace',
            'deployment',
            'coalesce(team_raw, namespace)',
            "coalesce(cast(coalesce(min_replicas_checked, case when min_replicas_raw is null then "
                ~ var('default_min_replicas') ~ " end) as " ~ ledger_type_string() ~ "), 'raw:' || min_replicas_raw)",
            "coalesce(cast(max_replicas_checked as " ~ ledger_type_string() ~ "), 'raw:' || max_replicas_raw)",
            "coalesce(cast(cpu_checked as " ~ ledger_type_string() ~ "), 'raw:' || cpu_raw)",
            "coalesce(cast(memory_gb_checked as " ~ ledger_type_string() ~ "), 'raw:' || memory_gb_raw)",
            "coalesce(cast(changed_at as " ~ ledger_type_string() ~ "), 'raw:' || changed_at_raw)",
            'changed_by',
            'action',
            'reason',
        ]) }} as value_fingerprint
    from checked
),

ranked as (
    select
        *,
        row_number() over (partition by change_id order by arrival_seq) as change_id_rank,
        first_value(value_fingerprint) over (
            partition by change_id order by arrival_seq
            rows between unbounded preceding and unbounded following
        ) as first_fingerprint
    from fingerprinted
),

typed as (
    select
        *,
        coalesce(team_raw, namespace) as team,
        coalesce(
            min_replicas_checked, case when min_replicas_raw is null then {{ var('default_min_replicas') }} end
        ) as min_replicas,
        max_replicas_checked as max_replicas,
        cpu_checked as cpu,
        memory_gb_checked as memory_gb,
        action = 'upsert' as is_upsert
    from ranked
),

judged as (
    select
        *,
        case
            when parse_error is not null then 'malformed_json'
            when change_id is null then 'missing_field:change_id'
            when change_id_rank > 1 and value_fingerprint = first_fingerprint then null
            when change_id_rank > 1 then 'conflicting_duplicate_change_id'
            when namespace is null then 'missing_field:namespace'
            when deployment is null then 'missing_field:deployment'
            when changed_at_raw is null then 'missing_field:changed_at'
            when action is null then 'missing_field:action'
            when not is_valid_namespace then 'invalid_namespace'
            when not is_valid_deployment then 'invalid_deployment'
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
            when is_upsert and cpu is null then 'invalid_cpu'
            when is_upsert and memory_gb is null then 'invalid_memory_gb'
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
        when 'invalid_max_replicas' then 'max_replicas ' || max_replicas_raw || ' is not a JSON integer'
        when 'invalid_min_replicas' then 'min_replicas ' || min_replicas_raw || ' is not a JSON integer'
        when 'invalid_cpu'
            then
                'cpu '
                || coalesce(cpu_raw, 'null')
                || ' is not a finite JSON number above 0 and at most {{ var('max_pod_cpu') }}'
        when 'invalid_memory_gb'
            then
                'memory_gb '
                || coalesce(memory_gb_raw, 'null')
                || ' is not a finite JSON number above 0 and at most {{ var('max_pod_memory_gb') }}'
        when 'invalid_namespace'
            then 'namespace ' || namespace || ' is not a Kubernetes namespace name (DNS-1123 label, at most 63)'
        when 'invalid_deployment'
            then 'deployment ' || deployment || ' is not a Kubernetes object name (DNS-1123 subdomain, at most 253)'
        when 'invalid_changed_at' then 'changed_at ' || changed_at_raw || ' is not an RFC 3339 timestamp with a zone'
        when 'unknown_action' then 'action ' || action || ' is not upsert or delete'
        when 'conflicting_duplicate_change_id'
            then 'change_id ' || change_id || ' was first used by an earlier row with different content'
    end as quarantine_detail,
    max_replicas_raw,
    raw_line
from judged

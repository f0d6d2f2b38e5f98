-- Typed view of the change log. Casts are lenient: a value that does not fit becomes
-- null here, and int_limit_changes__validated turns that into a quarantine reason. Names
-- and the action are kept as written (a name with a space, or `UPSERT`, is not the
-- contract's), and changed_at must be RFC 3339 with a zone, as in the Python twin
-- (changelog.usable; tests/parity/ holds the two together).
{%- set changed_at_text = 'trim(cast(changed_at as ' ~ ledger_type_string() ~ '))' %}
with source as (
    {{ ledger_ped_change_rows(source('ped', 'ped_limit_changes')) }}
)

select
    arrival_seq,
    nullif(trim(cast(change_id as {{ ledger_type_string() }})), '') as change_id,
    nullif(cast(namespace as {{ ledger_type_string() }}), '') as namespace,
    nullif(cast(deployment as {{ ledger_type_string() }}), '') as deployment,
    nullif(trim(cast(team as {{ ledger_type_string() }})), '') as team_raw,
    cast(min_replicas as {{ ledger_type_string() }}) as min_replicas_raw,
    cast(max_replicas as {{ ledger_type_string() }}) as max_replicas_raw,
    cast(cpu as {{ ledger_type_string() }}) as cpu_raw,
    cast(memory_gb as {{ ledger_type_string() }}) as memory_gb_raw,
    cast(changed_at as {{ ledger_type_string() }}) as changed_at_raw,
    {{ ledger_safe_cast('cast(min_replicas as ' ~ ledger_type_string() ~ ')', ledger_type_int()) }}
        as min_replicas_value,
    {{ ledger_safe_cast('cast(max_replicas as ' ~ ledger_type_string() ~ ')', ledger_type_int()) }}
        as max_replicas_value,
    {{ ledger_safe_cast('cast(cpu as ' ~ ledger_type_string() ~ ')', ledger_type_float()) }} as cpu_value,
    {{ ledger_safe_cast('cast(memory_gb as ' ~ ledger_type_string() ~ ')', ledger_type_float()) }} as memory_gb_value,
    case
        when {{ ledger_full_match(changed_at_text, ledger_pattern_rfc3339()) }}
            then {{ ledger_parse_utc_timestamp('upper(' ~ changed_at_text ~ ')') }}
    end as changed_at,
    coalesce(nullif(trim(cast(changed_by as {{ ledger_type_string() }})), ''), 'unknown') as changed_by,
    cast(action as {{ ledger_type_string() }}) as action,
    cast(reason as {{ ledger_type_string() }}) as reason,
    parse_error,
    raw_line,
    {{ ledger_fingerprint([
        'namespace', 'deployment', 'team', 'min_replicas', 'max_replicas', 'cpu',
        'memory_gb', 'changed_at', 'changed_by', 'action', 'reason'
    ]) }} as content_fingerprint
from source

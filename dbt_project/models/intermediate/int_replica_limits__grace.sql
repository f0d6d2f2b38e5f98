-- The deploy grace of each approved version: a PED change that lowers the max is applied
-- by the next redeploy, so for deploy_grace_hours after it takes effect the cluster may
-- still show the old max (and replicas up to it) without breaking a limit. grace_until is
-- null when the version did not lower the max (a raise needs no grace: the new max is
-- already the larger one), or when the grace is 0.
with versions as (
    select * from {{ ref('int_replica_limits__versioned') }}
),

with_previous as (
    select
        versions.change_id,
        versions.namespace,
        versions.deployment,
        versions.valid_from,
        versions.max_replicas,
        previous.max_replicas as previous_max_replicas
    from versions
    -- The version this one replaced: the same API's version that ended when it began.
    left join versions as previous
        on
            versions.namespace = previous.namespace
            and versions.deployment = previous.deployment
            and previous.valid_to = versions.valid_from
)

select
    change_id,
    namespace,
    deployment,
    valid_from,
    max_replicas,
    previous_max_replicas,
    case
        when {{ ledger_deploy_grace_hours() }} > 0 and previous_max_replicas > max_replicas
            then {{ ledger_timestamp_add_hours('valid_from', ledger_deploy_grace_hours()) }}
    end as grace_until
from with_previous

-- Objects of a snapshot the load step could not use (wrong kind, missing name, ...), with
-- the reason. One row per rejected object.
select
    snapshot_date,
    cluster,
    item_index,
    kind,
    reason,
    item_json
from {{ source('k8s', 'k8s_rejects') }}

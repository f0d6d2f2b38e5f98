-- Every object of a cluster snapshot that was left out of the ledger, with why: what an
-- operator checks when a Deployment or HPA is missing from the facts. Rebuilt whole on
-- every run from the raw rejects (small: only unusable objects land there).
select
    rejects.snapshot_date,
    rejects.cluster,
    rejects.item_index,
    rejects.kind,
    rejects.reason,
    rejects.item_json
from {{ ref('stg_k8s__rejects') }} as rejects

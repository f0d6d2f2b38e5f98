{{ config(ledger_window_config(require_partition_filter=false)) }}

-- The highest audited value of each API (an HPA's max or a Deployment's replicas, the
-- controllers' scale writes included) per month of the write, for each day the entries
-- were loaded under: what mart_monthly_billing's exposure takes from the audit log.
-- Stored and rebuilt over the run window like the per-day facts, so the month close reads
-- these few rows instead of every audit entry ever loaded. Keyed by the day an entry was
-- loaded under, not the day it was written, so an entry delivered days late still lands
-- in a day that a run rebuilds; a repeated delivery changes no maximum. Its first build
-- (or one after a full refresh) reads the whole history.
select
    snapshot_date,
    {{ ledger_month_start('cast(changed_at as date)') }} as billing_month,
    namespace,
    deployment,
    max(new_value) as observed_max_replicas
from {{ ref('stg_audit__workload_writes') }}
where new_value is not null and {{ ledger_incremental_window_filter('snapshot_date') }}
group by 1, 2, 3, 4

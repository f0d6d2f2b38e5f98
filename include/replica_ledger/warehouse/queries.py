"""The SQL the product runs on the dbt models: the run summary, billing, the alert, the report.

Every query here is written once for both warehouses (SQL that DuckDB and BigQuery both
accept, unqualified model names resolved in the dbt target's dataset, `?` parameters) and
run through `Warehouse.query`. Values are always parameters; no text from outside is put
into the SQL.
"""

from __future__ import annotations

from datetime import date, datetime

from replica_ledger.warehouse.base import MissingTable, Warehouse

# --------------------------------------------------------------------------- the day's build


def breaches_of_day(warehouse: Warehouse, day: date) -> list[dict]:
    return warehouse.query(
        "select breach_type, count(*) as breaches, sum(case when is_new_episode then 1 else 0 end) as new_episodes "
        "from fct_replica_breaches where snapshot_date = ? group by breach_type order by breach_type",
        [day],
    )


def quarantine_reasons(warehouse: Warehouse) -> list[dict]:
    return warehouse.query(
        "select quarantine_reason, count(*) as row_count from fct_limit_change_quarantine "
        "group by quarantine_reason order by quarantine_reason",
    )


def gaps_of_day(warehouse: Warehouse, day: date) -> list[dict]:
    return warehouse.query("select cluster, gap_reason from fct_snapshot_gaps where snapshot_date = ?", [day])


def snapshot_days(warehouse: Warehouse) -> dict:
    """How many snapshot days the warehouse holds, the first and the last."""
    return warehouse.query(
        "select count(distinct snapshot_date) as days, min(snapshot_date) as first_day,"
        " max(snapshot_date) as last_day from int_snapshot_expectations",
    )[0]


# --------------------------------------------------------------------------- billing


def statement_rows(warehouse: Warehouse, columns: str) -> list[dict]:
    """`select <columns> from fct_billing_statements`; none before the first month close
    (the ledger does not exist yet). `columns` is one of this module's constants."""
    try:
        return warehouse.query(f"select {columns} from fct_billing_statements")
    except MissingTable:
        return []


STATEMENT_COUNT = "count(*) as line_count"
STATEMENT_MONTHS = "distinct billing_month"
STATEMENT_KEYS = "billing_month, namespace, deployment, statement_version"


def closable_months(warehouse: Warehouse) -> list[dict]:
    """The months the last build's run day may close (int_billing_months__closable; the rule
    is the macro ledger_closable_months), with that run day."""
    return warehouse.query("select billing_month, run_day from int_billing_months__closable order by billing_month")


def month_bills(warehouse: Warehouse, month: date) -> list[dict]:
    """The month's current statement lines (mart_monthly_billing)."""
    return warehouse.query(
        "select namespace, deployment, team, billed_max_replicas, cpu, memory_gb, amount, prorated_amount,"
        " observed_max_replicas, unapproved_exposure_amount, statement_version, restatement_reason"
        " from mart_monthly_billing where billing_month = ? order by namespace, deployment",
        [month],
    )


# --------------------------------------------------------------------------- the alert

ALERT_COLUMNS = """
    cluster, namespace, deployment, team, breach_type, observed_value, approved_max_replicas,
    episode_started_on as started_on, episode_status as status, cpu, memory_gb,
    excess_replicas, excess_monthly_cost,
    crossed_by, crossed_with, crossed_at, crossed_field, crossed_from_value, crossed_to_value,
    ped_approved_at, ped_approved_max_replicas, hpa_name, snapshot_date
"""


def alert_rows(warehouse: Warehouse, since: date, day: date) -> list[dict]:
    """fct_breach_alerts of the days since..day, oldest day first (so each episode's latest
    row comes last)."""
    return warehouse.query(
        f"select {ALERT_COLUMNS} from fct_breach_alerts where snapshot_date between ? and ?"
        " order by snapshot_date, status, namespace, deployment, breach_type, cluster",
        [since, day],
    )


def limit_raise_rows(warehouse: Warehouse, since: date, day: date) -> list[dict]:
    """mart_limit_raises: the PED raises of a max approved on the days since..day, oldest first."""
    return warehouse.query(
        "select change_id, namespace, deployment, team, approved_at, old_max_replicas, new_max_replicas,"
        " old_monthly_charge, new_monthly_charge, added_monthly_charge from mart_limit_raises"
        " where approved_on between ? and ? order by approved_at, namespace, deployment, change_id",
        [since, day],
    )


def attribution_rows(warehouse: Warehouse) -> list[dict]:
    """The row of the day each episode started (its "new" row) in fct_breach_alerts; the
    date bound is a partition filter BigQuery requires on the day-partitioned table."""
    return warehouse.query(
        "select cluster, namespace, deployment, breach_type, episode_started_on, crossed_by,"
        " crossed_with, crossed_at, crossed_field, crossed_from_value, crossed_to_value,"
        " approved_max_replicas, ped_approved_at, ped_approved_max_replicas"
        " from fct_breach_alerts"
        " where snapshot_date >= cast('1970-01-01' as date) and snapshot_date = episode_started_on"
        " order by episode_started_on, namespace, deployment, breach_type, cluster"
    )


# --------------------------------------------------------------------------- the report


def report_episodes(warehouse: Warehouse) -> list[dict]:
    return warehouse.query(
        "select cluster, namespace || '/' || deployment as api, team, breach_type, started_on, last_seen_on,"
        " ended_on, max_observed_value, last_approved_max_replicas"
        " from fct_breach_episodes order by started_on, namespace, deployment, breach_type"
    )


def report_gaps(warehouse: Warehouse) -> list[dict]:
    return warehouse.query("select snapshot_date, cluster, gap_reason from fct_snapshot_gaps order by 1, 2")


def report_quarantine(warehouse: Warehouse) -> list[dict]:
    return warehouse.query(
        "select arrival_seq, change_id, quarantine_reason, quarantine_detail"
        " from fct_limit_change_quarantine order by arrival_seq"
    )


def _period(month: date | None) -> tuple[str, list]:
    """A filter on snapshot_date for the month starting `month` (everything without one)."""
    if not month:
        return "", []
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return " where snapshot_date >= ? and snapshot_date < ?", [month, following]


def report_snapshot_rejects(warehouse: Warehouse, month: date | None) -> list[dict]:
    """The period's rejected snapshot objects and files, with their reasons."""
    where, params = _period(month)
    return warehouse.query(
        "select snapshot_date, cluster, item_index, kind, reason, item_json from fct_snapshot_rejects"
        f"{where} order by snapshot_date, cluster, item_index",
        params,
    )


def report_audit_rejects(warehouse: Warehouse, month: date | None) -> list[dict]:
    """The period's rejected audit entries, with their reasons."""
    where, params = _period(month)
    return warehouse.query(
        "select snapshot_date, cluster, source, line_number, reason from stg_audit__rejects"
        f"{where} order by snapshot_date, source, line_number",
        params,
    )


def report_admission_warnings(warehouse: Warehouse, month: date | None) -> list[dict]:
    """The period's limit edits an admission policy flagged (fct_limit_edits.admission_failure)."""
    where, params = _period(month)
    where = f"{where} and" if where else " where snapshot_date >= cast('1970-01-01' as date) and"
    return warehouse.query(
        "select changed_at, cluster, namespace || '/' || deployment as api, principal, field, from_value, to_value,"
        f" approved_max_replicas, admission_failure from fct_limit_edits{where} admission_failure is not null"
        " order by changed_at, cluster, namespace, deployment",
        params,
    )


def report_bills(warehouse: Warehouse, month: date | None) -> list[dict]:
    """Every month's bill (or `month`'s); `MissingTable` before the first month close."""
    return warehouse.query(
        "select billing_month, namespace || '/' || deployment as api, team, billed_max_replicas, cpu,"
        " memory_gb, amount, prorated_amount, observed_max_replicas, unapproved_exposure_amount,"
        f" statement_version from mart_monthly_billing {'where billing_month = ?' if month else ''}"
        " order by billing_month, namespace, deployment",
        [month] if month else [],
    )


def report_restatements(warehouse: Warehouse, month: date | None) -> list[dict]:
    """The restated and superseded statement lines; `MissingTable` before the first close."""
    return warehouse.query(
        "select billing_month, namespace || '/' || deployment as api, statement_version, amount, closed_at,"
        " superseded_at, restatement_reason from fct_billing_statements"
        " where (restatement_reason is not null or superseded_at is not null)"
        f"{' and billing_month = ?' if month else ''}"
        " order by billing_month, namespace, deployment, statement_version",
        [month] if month else [],
    )


# --------------------------------------------------------------------------- generated policies


def limits_in_force(warehouse: Warehouse, at: datetime | None) -> list[dict]:
    """Each API's approved max in force at `at` (`[valid_from, valid_to)`), or its current
    version when `at` is None; by namespace and deployment."""
    columns = "select namespace, deployment, max_replicas from dim_replica_limits"
    order = " order by namespace, deployment"
    if at is None:
        return warehouse.query(f"{columns} where is_current{order}")
    return warehouse.query(f"{columns} where valid_from <= ? and (valid_to is null or valid_to > ?){order}", [at, at])


def limit_namespaces(warehouse: Warehouse) -> list[str]:
    """Every namespace that ever had an approved limit (its ConfigMap stays, emptied, when the last goes)."""
    return [row["namespace"] for row in warehouse.query("select distinct namespace from dim_replica_limits")]


def policy_clusters(warehouse: Warehouse) -> list[str]:
    """The clusters a snapshot is expected from (configured or seen): one ClusterRules each."""
    return [row["cluster"] for row in warehouse.query("select distinct cluster from int_snapshot_expectations")]


# --------------------------------------------------------------------------- team statements
# Read by replica_ledger.statements, which renders them; every number comes from the marts.


def team_statement_versions(warehouse: Warehouse, month: date | None = None) -> list[dict]:
    """Every version of every team's statement (mart_team_statements), or `month`'s;
    `MissingTable` before the first close."""
    return warehouse.query(
        "select billing_month, team, team_version, version_at, is_restatement, api_count, total_amount,"
        " total_exposure_amount, previous_version_total, previous_month_total, changed_lines, breach_episodes"
        f" from mart_team_statements {'where billing_month = ?' if month else ''}"
        " order by billing_month, team, team_version",
        [month] if month else [],
    )


def team_statement_lines(warehouse: Warehouse, month: date) -> list[dict]:
    """The lines of every team version of `month` (mart_team_statement_lines)."""
    return warehouse.query(
        "select team, team_version, namespace, deployment, change_kind, statement_version, billed_max_replicas,"
        " cpu, memory_gb, amount, previous_amount, prorated_amount, observed_max_replicas,"
        " unapproved_exposure_amount, restatement_reason, billed_change_id, base_fee, vcpu_rate, memory_rate,"
        " replica_divisor, breach_episodes"
        " from mart_team_statement_lines where billing_month = ?"
        " order by team, team_version, namespace, deployment",
        [month],
    )


def statement_api_days(warehouse: Warehouse, month: date) -> list[dict]:
    """The chart rows of `month`'s billed APIs (mart_statement_api_days)."""
    return warehouse.query(
        "select namespace, deployment, snapshot_date, desired_replicas, hpa_max_replicas, peak_replicas,"
        " approved_max_replicas, is_breach_day from mart_statement_api_days where billing_month = ?"
        " order by namespace, deployment, snapshot_date",
        [month],
    )


def statement_limit_versions(warehouse: Warehouse, month_start: date, month_end: date) -> list[dict]:
    """The approved versions (dim_replica_limits) in force at some moment of [start, end)."""
    return warehouse.query(
        "select namespace, deployment, change_id, max_replicas, min_replicas, cpu, memory_gb, valid_from,"
        " valid_to, changed_by from dim_replica_limits"
        " where valid_from < cast(? as timestamp) and (valid_to is null or valid_to > cast(? as timestamp))"
        " order by namespace, deployment, valid_from",
        [month_end, month_start],
    )


def statement_episodes(warehouse: Warehouse, month_start: date, month_end: date) -> list[dict]:
    """The breach episodes seen in [start, end) (fct_breach_episodes), each with who crossed
    the limit from its first alert row (fct_breach_alerts; the date bound is the partition
    filter BigQuery requires), the columns audit.attribution.who_row reads."""
    return warehouse.query(
        "select episodes.cluster, episodes.namespace, episodes.deployment, episodes.breach_type,"
        " episodes.started_on as episode_started_on, episodes.last_seen_on, episodes.ended_on,"
        " episodes.breach_days, episodes.max_observed_value,"
        " alerts.crossed_by, alerts.crossed_with, alerts.crossed_at, alerts.crossed_field,"
        " alerts.crossed_from_value, alerts.crossed_to_value,"
        " coalesce(alerts.approved_max_replicas, episodes.last_approved_max_replicas) as approved_max_replicas,"
        " alerts.ped_approved_at, alerts.ped_approved_max_replicas"
        " from fct_breach_episodes as episodes"
        " left join (select * from fct_breach_alerts where snapshot_date >= cast('1970-01-01' as date)) as alerts"
        " on alerts.snapshot_date = episodes.started_on and alerts.episode_started_on = episodes.started_on"
        " and alerts.cluster = episodes.cluster and alerts.namespace = episodes.namespace"
        " and alerts.deployment = episodes.deployment and alerts.breach_type = episodes.breach_type"
        " where episodes.started_on < ? and episodes.last_seen_on >= ?"
        " order by episodes.namespace, episodes.deployment, episodes.started_on, episodes.breach_type,"
        " episodes.cluster",
        [month_end, month_start],
    )


def statement_months_written_since(warehouse: Warehouse, since) -> list[date]:
    """The months with a team statement version written at or after `since` (UTC)."""
    rows = warehouse.query(
        "select distinct billing_month from mart_team_statements where version_at >= ? order by billing_month",
        [since],
    )
    return [row["billing_month"] for row in rows]

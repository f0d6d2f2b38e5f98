"""The steps of the daily pipeline, as plain functions the DAG's tasks call.

Each step takes the snapshot day and Settings, does its work, and returns a small
JSON-serializable summary (it goes to XCom and to the task log). Keeping the steps here,
not in the DAG file, means the DAG stays thin and cheap to parse, and the steps can be
tested without Airflow.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

from replica_ledger.settings import Settings

log = logging.getLogger(__name__)


def is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


def month_start(day: date) -> date:
    return day.replace(day=1)


# --------------------------------------------------------------------------- snapshot


def take_snapshot(settings: Settings, day: date, *, live_allowed: bool) -> dict:
    """Make sure the archive holds what exists for `day`, and say which clusters are missing.

    A live capture happens only when the run is for the current day and a cluster
    connection is configured; a past day only ever reads the archive.
    """
    from replica_ledger.raw.day import expected_clusters
    from replica_ledger.raw.layout import ARCHIVE
    from replica_ledger.raw.stores import LocalStore

    captured: list[str] = []
    if live_allowed and settings.kubeconfig and settings.clusters:
        captured = capture_live(settings, day)
    snapshots = ARCHIVE.snapshots_until(LocalStore(settings.archive_dir), day)
    files = snapshots.get(day, {})
    clusters = expected_clusters(settings.clusters, snapshots)
    summary = {
        "snapshot_date": day.isoformat(),
        "live_capture": bool(captured),
        "clusters_expected": clusters,
        "clusters_found": sorted(files),
        "clusters_missing": [cluster for cluster in clusters if cluster not in files],
    }
    log.info("snapshot %s: %s", day, summary)
    return summary


def capture_live(settings: Settings, day: date) -> list[str]:
    """Run the collector once per configured cluster (kubeconfig context = cluster name)."""
    from replica_ledger.collector.__main__ import main as collect

    captured = []
    for cluster in settings.clusters:
        argv = [
            "--cluster",
            cluster,
            "--output",
            str(settings.archive_dir),
            "--kubeconfig",
            settings.kubeconfig,
            "--context",
            cluster,
            "--date",
            day.isoformat(),
        ]
        if collect(argv) != 0:
            raise RuntimeError(f"collector failed for cluster {cluster}")
        captured.append(cluster)
    return captured


# --------------------------------------------------------------------------- load


def archive_store(settings: Settings):
    """Where the snapshots are read: the environment's GCS bucket on GCP, the archive folder locally."""
    from replica_ledger.raw.stores import GcsStore, LocalStore

    if settings.gcp is not None:
        return GcsStore(settings.gcp.bucket, settings.gcp.snapshot_prefix)
    return LocalStore(settings.archive_dir)


def run_lookback_days(settings: Settings, *, is_backfill: bool) -> int:
    """The lookback window L of a run (contract §5 "Late data"): a run for D reloads and
    rebuilds [D - L, D].

    A backfill replays its days in order, so each day is rebuilt by its own run: it uses 0.
    With L, a 30-day backfill would rebuild 30 overlapping windows (8 times the work at
    L = 7) for the same rows. Current-day and manual runs use Settings.lookback_days.
    """
    return 0 if is_backfill else settings.lookback_days


def _lookback(settings: Settings, lookback_days: int | None) -> int:
    return settings.lookback_days if lookback_days is None else lookback_days


def load_day(settings: Settings, day: date, store=None, *, lookback_days: int | None = None) -> dict:
    """Replace `day` in the raw tables of the warehouse the dbt target names, and every past
    day of the lookback window whose archive changed since it was loaded; idempotent.

    The only load entry point, on both paths: a day of the archive (local folder or GCS) is
    streamed into DuckDB (one transaction per day) or into BigQuery (one WRITE_TRUNCATE load
    job per table and day partition). A past day of the window is loaded again only when its
    load record (raw.record) says its files changed, or appeared: a snapshot copied in late
    fills its gap. The run's own day is always loaded; a run never reaches back before the
    first day the warehouse loaded. Locally the PED change log is
    reloaded too; on BigQuery it is a table dbt reads directly.
    """
    from replica_ledger.raw.record import window_days, window_inputs

    store = store or archive_store(settings)
    lookback = _lookback(settings, lookback_days)
    audit_client = _audit_client(settings)
    inputs = window_inputs(
        store, window_days(day, lookback), settings.clusters, settings.audit_log, audit_client=audit_client
    )
    loads, extra = (
        _load_into_bigquery(settings, day, store, inputs, audit_client)
        if settings.uses_bigquery
        else _load_into_duckdb(settings, day, store, inputs, audit_client)
    )
    load = loads[day]
    summary = {
        "snapshot_date": day.isoformat(),
        "rows": {**load.rows, **extra.pop("rows", {})},
        "clusters": load.statuses(),
        "gaps": [row["cluster"] for row in load.manifest if row["status"] != "loaded"],
        "rejected_objects": load.rows["k8s_rejects"],
        # Meta files not believed (another cluster, a time outside the day): judged at the default.
        "rejected_meta_files": {
            row["cluster"]: row["error"] for row in load.manifest if row["status"] == "loaded" and row["error"]
        },
        "lookback_days": lookback,
        # Past days of the window loaded again: their archive changed since their last load.
        "reloaded_days": {other.isoformat(): loads[other].statuses() for other in sorted(loads) if other != day},
        **extra,
    }
    log.info("load %s: %s", day, summary)
    return summary


def _days_due(inputs: dict, loaded: tuple[dict[date, str], date | None], day: date) -> list[date]:
    """The run's day, and the past days whose archive differs from their load record
    (`loaded`: the window's records and the first day ever loaded)."""
    records, first_loaded = loaded
    due = [
        other
        for other, what in sorted(inputs.items())
        if other == day or what.needs_load(records.get(other), first_loaded)
    ]
    late = [other.isoformat() for other in due if other != day]
    if late:
        log.info("load %s: files new or changed since the last load of %s: loading them", day, ", ".join(late))
    return due


def _audit_client(settings: Settings):
    """The BigQuery client that reads the log sink's table (None for a local audit log): its
    query jobs run in REPLICA_LEDGER_GCP_PROJECT, or in the table's project when unset."""
    from dataclasses import replace

    from replica_ledger.settings import AuditTable

    table = settings.audit_log
    if not isinstance(table, AuditTable):
        return None
    from replica_ledger.gcp import bigquery

    job_settings = replace(settings, gcp_project=settings.gcp_project or table.project)
    return bigquery.client(job_settings, "reading the audit log sink table")


def _write_day(settings: Settings, store, inputs, sink, audit_client=None) -> tuple:
    """One day's rows, its audit rows and its load record into `sink`."""
    from replica_ledger.raw.day import write_audit_rows, write_day_rows, write_load_record

    load = write_day_rows(store, inputs.day, settings.clusters, sink)
    audit = write_audit_rows(settings.audit_log, load, settings.excluded_namespaces, sink, audit_client)
    write_load_record(inputs.record_row(), load, sink)
    return load, audit


def _load_into_duckdb(settings: Settings, day: date, store, inputs: dict, audit_client=None) -> tuple:
    """Each due day in its own DuckDB transaction, then the PED change log reloaded whole."""
    from replica_ledger import changelog, warehouse

    change_rows = list(changelog.read_change_log(settings.ped_changes))
    loads, audits = {}, {}
    with warehouse.connect(settings.duckdb_path) as con:
        warehouse.limit_load_memory(con)
        warehouse.ensure_raw_schema(con)
        # Before any day is replaced: a broken change log stops the load with nothing changed.
        warehouse.check_change_log(con, change_rows, str(settings.ped_changes))
        loaded = warehouse.load_records(con, min(inputs), max(inputs))
        for due in _days_due(inputs, loaded, day):
            with warehouse.replacing_day(con, due) as sink:
                loads[due], audits[due] = _write_day(settings, store, inputs[due], sink, audit_client)
        changes = warehouse.replace_change_log(con, change_rows, str(settings.ped_changes))
    unparseable = sum(1 for row in change_rows if row["parse_error"])
    extra = {"rows": {"ped_limit_changes": changes}, "unparseable_change_rows": unparseable, "audit": audits[day]}
    return loads, extra


def _load_into_bigquery(settings: Settings, day: date, store, inputs: dict, audit_client=None) -> tuple:
    """Each due day's partitions of the BigQuery raw tables, one WRITE_TRUNCATE load job each."""
    from replica_ledger.gcp import bigquery

    raw, bq_client = bigquery.RawDataset.of(settings), bigquery.client(settings)
    loaded = bigquery.load_records(raw, min(inputs), max(inputs), bq_client)
    loads, audits = {}, {}
    for due in _days_due(inputs, loaded, day):
        with bigquery.replacing_day(raw, due, bq_client) as sink:
            loads[due], audits[due] = _write_day(settings, store, inputs[due], sink, audit_client)
    return loads, {"destination": f"{raw.project}.{raw.dataset}", "audit": audits[day]}


# --------------------------------------------------------------------------- transform


# The billing step's models; the day's build leaves them (and their tests) to it, so a
# billing failure (e.g. a month with no rate in force) never holds back the alerts.
BILLING_MODELS = "int_billing_lines+"


def build_day(settings: Settings, day: date, *, lookback_days: int | None = None) -> dict:
    """dbt build of everything but the billing models, for the run's window [day - L, day]:
    the per-day facts rebuild every day of it, from the raw tables and limits known now."""
    lookback = _lookback(settings, lookback_days)
    daily_tests = [] if settings.dbt_daily_tests else ["--exclude-resource-type", "test"]
    _dbt_build(settings, day, "--exclude", BILLING_MODELS, *daily_tests, lookback_days=lookback)
    return {**run_summary(settings, day), "rebuilt_from": (day - timedelta(days=lookback)).isoformat()}


def _dbt_build(
    settings: Settings, day: date, *selection: str, command: str = "build", lookback_days: int | None = None
) -> None:
    """`dbt <command>` of a selection for the run's window (unit tests run in CI, not in the DAG).

    The window travels as environment variables (dbt_runner.RUN_WINDOW_ENV), like the day:
    the --vars stay the same on every run, so dbt's partial parse holds.
    """
    from replica_ledger.dbt_runner import build_vars, run_dbt

    run_dbt(
        settings,
        [command, *selection, "--exclude-resource-type", "unit_test", "--vars", build_vars(settings)],
        window={"snapshot_date": day.isoformat(), "lookback_days": str(_lookback(settings, lookback_days))},
    )


# The append-only statements ledger (contract §5): `make rebuild` keeps it as it is.
STATEMENTS_LEDGER = "fct_billing_statements"


def rebuild(settings: Settings) -> dict:
    """`make rebuild`: every dbt model rebuilt (--full-refresh, no run day) from the raw
    tables already loaded; the raw tables and the two ledgers are kept.

    fct_billing_statements is left out of the selection: a rebuild neither closes nor
    restates a month (the billing step of a run does), and --full-refresh never drops it
    anyway (full_refresh: false). Before the first month close there is no ledger yet, so
    the billing models are left to that close. alert_log is written by the alert task,
    never by dbt. The data tests run on the rebuilt models.
    """
    from replica_ledger.dbt_runner import build_vars, run_dbt

    has_ledger = bool(_statement_rows(settings, "select count(*) as line_count"))
    keep = [STATEMENTS_LEDGER] if has_ledger else [BILLING_MODELS]
    command = ["build", "--full-refresh", "--exclude", *keep, "--exclude-resource-type", "unit_test"]
    run_dbt(settings, [*command, "--vars", build_vars(settings)], window=None)
    days = _query(
        settings,
        "select count(distinct snapshot_date) as days, min(snapshot_date) as first_day,"
        " max(snapshot_date) as last_day from int_snapshot_expectations",
    )[0]
    summary = {
        "rebuilt_days": days["days"],
        "first_day": days["first_day"].isoformat() if days["first_day"] else None,
        "last_day": days["last_day"].isoformat() if days["last_day"] else None,
        "kept": ["raw tables", "alert_log", *([STATEMENTS_LEDGER] if has_ledger else [])],
        "billing_models": "rebuilt from the kept ledger" if has_ledger else "left to the first month close",
    }
    log.info("rebuild: %s", summary)
    return summary


def last_closable_month(day: date) -> date | None:
    """The last month whose last day is on or before `day` (contract §5 "Month close")."""
    return month_start(month_start(day + timedelta(days=1)) - timedelta(days=1))


def billing_due(settings: Settings, day: date) -> dict:
    """Whether the run for `day` has a month to close or may restate one, from the warehouse.

    A month is closed by the first run whose snapshot day is on or after its last day, so
    any month from the first snapshot month up to last_closable_month(day) that has no
    statement yet is to close (a missed month-end run is made up by the next run). Once a
    month is closed, every later run checks it for restatement (a late PED row or a rate
    correction can change a closed line on any day); fct_billing_statements writes only
    the lines that changed.
    """
    first = _query(settings, "select min(snapshot_date) as first_day from int_snapshot_expectations")[0]["first_day"]
    last = last_closable_month(day)
    closable = [] if first is None else _months_between(month_start(first), last)
    closed = set(closed_months(settings))
    to_close = [month for month in closable if month not in closed]
    to_check = [month for month in closable if month in closed]
    due = {
        "snapshot_date": day.isoformat(),
        "months_to_close": [month.isoformat() for month in to_close],
        "closed_months_to_check": [month.isoformat() for month in to_check],
        "due": bool(to_close or to_check),
    }
    log.info("billing %s: %s", day, due)
    return due


def _months_between(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = month_start(month + timedelta(days=31))
    return months


def closed_months(settings: Settings) -> list[date]:
    """Months with a statement in fct_billing_statements (none before the first close)."""
    return [row["billing_month"] for row in _statement_rows(settings, "select distinct billing_month")]


def _statement_rows(settings: Settings, select: str, where: str = "") -> list[dict]:
    """Rows of fct_billing_statements; none when the ledger does not exist yet (first close)."""
    try:
        return _query(settings, f"{select} from fct_billing_statements {where}")
    except Exception as error:  # DuckDB CatalogException / BigQuery NotFound, named by the table
        if "fct_billing_statements" in str(error) and ("not" in str(error).lower()):
            return []
        raise


def build_billing(settings: Settings, day: date) -> dict:
    """Close every month the run for `day` may close, restate changed lines of closed ones.

    fct_billing_statements decides line by line (new month: version 1; changed line:
    version n+1 with its reason; unchanged: nothing); the summary says which months were
    closed or restated by this run, read from the ledger before and after.
    """
    if not settings.dbt_daily_tests:
        # The days were built without their data tests: test everything once before billing.
        _dbt_build(settings, day, "--exclude", BILLING_MODELS, command="test")
    before = _statement_keys(settings)
    _dbt_build(settings, day, "--select", BILLING_MODELS)
    written = _statement_keys(settings) - before
    closed = sorted({month for month, _, _, version in written if version == 1} - set(_months_of(before)))
    restated = sorted({month for month, _, _, version in written if version > 1 or month in _months_of(before)})
    summary = {
        "snapshot_date": day.isoformat(),
        "months_closed": [month.isoformat() for month in closed],
        "months_restated": [month.isoformat() for month in restated],
        "lines_written": len(written),
        "months": [billing_summary(settings, month) for month in sorted({*closed, *restated})],
    }
    log.info(
        "billing %s: closed %s, restated %s (%d new statement line(s))",
        day,
        summary["months_closed"] or "none",
        summary["months_restated"] or "none",
        len(written),
    )
    return summary


def _statement_keys(settings: Settings) -> set[tuple]:
    rows = _statement_rows(settings, "select billing_month, namespace, deployment, statement_version")
    return {(row["billing_month"], row["namespace"], row["deployment"], row["statement_version"]) for row in rows}


def _months_of(keys: set[tuple]) -> set[date]:
    return {key[0] for key in keys}


# --------------------------------------------------------------------------- reporting


def _query(settings: Settings, sql: str, params: list | None = None) -> list[dict]:
    """Run a summary query (SQL both DuckDB and BigQuery accept, `?` parameters) on the dbt target."""
    if settings.uses_bigquery:  # `bigquery`, or the emulator's `bigquery_emulator`
        from replica_ledger.gcp.bigquery import query_rows

        return query_rows(settings, sql, params)
    from replica_ledger import warehouse

    with warehouse.connect(settings.duckdb_path) as con:
        cursor = con.execute(sql, params or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def run_summary(settings: Settings, day: date) -> dict:
    """What the day's build found: counts the run log and the operator care about."""
    breaches = _query(
        settings,
        "select breach_type, count(*) as breaches, sum(case when is_new_episode then 1 else 0 end) as new_episodes "
        "from fct_replica_breaches where snapshot_date = ? group by breach_type order by breach_type",
        [day],
    )
    quarantine = _query(
        settings,
        "select quarantine_reason, count(*) as row_count from fct_limit_change_quarantine "
        "group by quarantine_reason order by quarantine_reason",
    )
    quarantine = [{"quarantine_reason": row["quarantine_reason"], "rows": row["row_count"]} for row in quarantine]
    gaps = _query(settings, "select cluster, gap_reason from fct_snapshot_gaps where snapshot_date = ?", [day])
    summary = {
        "snapshot_date": day.isoformat(),
        "breaches": breaches,
        "new_episodes": sum(row["new_episodes"] for row in breaches),
        "gaps": gaps,
        "quarantined_change_rows": sum(row["rows"] for row in quarantine),
        "quarantine_reasons": quarantine,
        # What the billing step of this run will do (it reports what it did).
        "billing": {key: value for key, value in billing_due(settings, day).items() if key != "snapshot_date"},
    }
    log.info("build %s: %s", day, summary)
    return summary


def billing_summary(settings: Settings, month: date) -> dict:
    """The month's current statement lines (mart_monthly_billing), amounts as exact decimals."""
    rows = _query(
        settings,
        "select namespace, deployment, team, billed_max_replicas, cpu, memory_gb, amount, prorated_amount,"
        " observed_max_replicas, unapproved_exposure_amount, statement_version, restatement_reason"
        " from mart_monthly_billing where billing_month = ? order by namespace, deployment",
        [month],
    )
    for row in rows:
        log.info(
            "bill %s %s/%s (%s) v%s: max %s, %s vCPU, %s GB -> %s (prorated %s; observed max %s, exposure %s)%s",
            month,
            row["namespace"],
            row["deployment"],
            row["team"],
            row["statement_version"],
            row["billed_max_replicas"],
            row["cpu"],
            row["memory_gb"],
            row["amount"],
            row["prorated_amount"],
            row["observed_max_replicas"],
            row["unapproved_exposure_amount"],
            f" restated: {row['restatement_reason']}" if row["restatement_reason"] else "",
        )
    money = ("amount", "prorated_amount", "unapproved_exposure_amount")
    return {
        "billing_month": month.isoformat(),
        "apis": len(rows),
        # Exact: the warehouse returns decimals; XCom gets them as strings ("236.53").
        "total_amount": str(sum((Decimal(row["amount"]) for row in rows), Decimal("0.00"))),
        "bills": [{**row, **{key: str(row[key]) for key in money}} for row in rows],
    }

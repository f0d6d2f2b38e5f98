"""The production preflight: everything a run needs from outside, checked before it starts.

A production run (REPLICA_LEDGER_ENV=gcp) that lacks a Slack connection, its pool, a
BigQuery dataset or table, or the archive bucket otherwise fails late (the alert task),
stalls without a word (Airflow never schedules a task whose pool does not exist) or loses
what it should have said. The first task of every production run calls :func:`preflight`,
which runs every check and raises one :class:`PreflightError` naming everything missing;
the failure callback hands that list to the platform route.

Each check returns a list of :class:`Problem` (empty: all there). The Airflow lookups
(does a connection exist, does a pool exist) are callables given by
``replica_ledger.airflow.preflight``, and the Google clients are given too, so this
module imports neither Airflow nor a Google client library at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from replica_ledger.alerts.routes import Routes
from replica_ledger.settings import AuditTable, Settings

log = logging.getLogger(__name__)

#: What a pool lookup answers: exists, does not exist, or None when it cannot be asked here.
PoolLookup = Callable[[str], bool | None]


@dataclass(frozen=True, order=True)
class Problem:
    """One missing or unusable item: its kind ("Slack connection", "pool", ...), its name, why."""

    kind: str
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.detail}"


class PreflightError(RuntimeError):
    """Some of what a production run needs is missing; ``problems`` names each (one line each)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = [str(problem) for problem in problems]
        super().__init__(f"preflight: {len(self.problems)} item(s) missing or unusable: " + "; ".join(self.problems))


# --------------------------------------------------------------------------- Airflow side


def route_connection_ids(routes: Routes, platform_conn_id: str) -> list[str]:
    """The Slack connection of every route (each team's, the default route's) and of the
    platform route (failure notices), each once."""
    ids = [platform_conn_id, routes.default.slack_conn_id, *(route.slack_conn_id for route in routes.by_team.values())]
    return sorted(set(ids))


def check_connections(conn_ids: Iterable[str], exists: Callable[[str], bool]) -> list[Problem]:
    return [
        Problem("Slack connection", conn_id, "does not exist (an Airflow connection or a Secret Manager secret)")
        for conn_id in conn_ids
        if not exists(conn_id)
    ]


def check_pools(pools: Iterable[str], exists: PoolLookup) -> list[Problem]:
    problems = []
    for pool in pools:
        found = exists(pool)
        if found is None:
            log.warning("pool %r cannot be looked up from a task on this Airflow version; not checked", pool)
        elif not found:
            problems.append(Problem("pool", pool, "does not exist: Airflow would never schedule its tasks"))
    return problems


# --------------------------------------------------------------------------- BigQuery


@dataclass(frozen=True)
class BigQueryNeeds:
    """The datasets and the source tables (``project.dataset.table``) a run reads."""

    datasets: tuple[str, ...]
    external_tables: tuple[tuple[str, str], ...]  # (kind, table), made by others (PED pipeline, log sink)
    raw_tables: tuple[str, ...]  # made by the load itself on its first run
    load_record: str  # the raw table that says a day was loaded before


def bigquery_needs(settings: Settings, raw_tables: Iterable[str]) -> BigQueryNeeds:
    """What the settings' BigQuery side needs: the raw, dbt, PED and audit datasets; the PED
    change log and the audit sink table (when REPLICA_LEDGER_AUDIT_LOG=bq://...); the raw tables."""
    project = settings.require_gcp_project("the preflight")
    raw = f"{project}.{settings.raw_dataset}"
    ped = f"{settings.ped_project or project}.{settings.ped_dataset or settings.raw_dataset}"
    datasets = [raw, f"{project}.{settings.dataset}", ped]
    external = [("PED change log table", f"{ped}.{settings.ped_table_name}")]
    if isinstance(settings.audit_log, AuditTable):
        datasets.append(f"{settings.audit_log.project}.{settings.audit_log.dataset}")
        external.append(("audit sink table", settings.audit_log.table_id))
    tables = tuple(f"{raw}.{table}" for table in raw_tables)
    return BigQueryNeeds(tuple(dict.fromkeys(datasets)), tuple(external), tables, f"{raw}.day_loads")


def _dataset_of(table_id: str) -> str:
    return table_id.rsplit(".", 1)[0]


def _dry_run(client: Any, table_id: str) -> Exception | None:
    """A dry-run query of the table: it exists and this account may read it (nothing is billed)."""
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
    try:
        client.query(f"SELECT * FROM `{table_id}` LIMIT 0", job_config=config)
    except Exception as err:  # NotFound, Forbidden, BadRequest: named in the problem
        return err
    return None


def _why(err: Exception) -> str:
    from google.api_core.exceptions import Forbidden, NotFound

    if isinstance(err, NotFound):
        return "does not exist"
    if isinstance(err, Forbidden):
        return "not readable by this account (permission denied)"
    return f"dry-run query failed ({type(err).__name__}: {str(err).splitlines()[0][:200]})"


def check_datasets(client: Any, datasets: Iterable[str]) -> list[Problem]:
    problems = []
    for dataset in datasets:
        try:
            client.get_dataset(dataset)
        except Exception as err:
            problems.append(Problem("BigQuery dataset", dataset, _why(err)))
    return problems


def check_tables(client: Any, needs: BigQueryNeeds, missing_datasets: Iterable[str] = ()) -> list[Problem]:
    """A dry-run query of each source table whose dataset exists (a missing dataset is one problem).

    The raw tables are created by the first load: missing ones are a problem only when a day
    was loaded before (the load record exists), i.e. when someone dropped them.
    """
    skip = set(missing_datasets)
    problems = []
    for kind, table in needs.external_tables:
        if _dataset_of(table) in skip:
            continue
        err = _dry_run(client, table)
        if err is not None:
            problems.append(Problem(kind, table, _why(err)))
    raw = [table for table in needs.raw_tables if _dataset_of(table) not in skip]
    if not raw:
        return problems
    errors = {table: _dry_run(client, table) for table in raw}
    never_loaded = needs.load_record in errors and _is_not_found(errors[needs.load_record])
    for table, err in errors.items():
        if err is None or (never_loaded and _is_not_found(err)):
            continue
        problems.append(Problem("raw table", table, _why(err)))
    return problems


def _is_not_found(err: Exception | None) -> bool:
    from google.api_core.exceptions import NotFound

    return isinstance(err, NotFound)


# --------------------------------------------------------------------------- GCS


def check_bucket(client: Any, bucket: str) -> list[Problem]:
    """The archive bucket exists and its objects can be listed."""
    try:
        next(iter(client.get_bucket(bucket).list_blobs(max_results=1)), None)
    except Exception as err:
        return [Problem("archive bucket", f"gs://{bucket}", _why(err))]
    return []


# --------------------------------------------------------------------------- all of it


def preflight(
    settings: Settings,
    routes: Routes,
    *,
    conn_exists: Callable[[str], bool],
    pool_exists: PoolLookup,
    pools: Iterable[str],
    bigquery_client: Any,
    storage_client: Any,
    raw_tables: Iterable[str],
) -> list[Problem]:
    """Run every check; raise :class:`PreflightError` naming all problems, else return [] (for the log)."""
    if settings.gcp is None:
        raise ValueError("the preflight checks the production settings (REPLICA_LEDGER_ENV=gcp)")
    needs = bigquery_needs(settings, raw_tables)
    dataset_problems = check_datasets(bigquery_client, needs.datasets)
    problems = [
        *check_connections(route_connection_ids(routes, settings.slack_conn_id), conn_exists),
        *check_pools(pools, pool_exists),
        *dataset_problems,
        *check_tables(bigquery_client, needs, [problem.name for problem in dataset_problems]),
        *check_bucket(storage_client, settings.gcp.bucket),
    ]
    if problems:
        raise PreflightError(problems)
    log.info(
        "preflight: %d Slack connection(s), %d dataset(s), %d source table(s) and gs://%s are there",
        len(route_connection_ids(routes, settings.slack_conn_id)),
        len(needs.datasets),
        len(needs.external_tables) + len(needs.raw_tables),
        settings.gcp.bucket,
    )
    return problems

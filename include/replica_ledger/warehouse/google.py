"""The Google clients (BigQuery, Cloud Storage), with credentials the Airflow way.

In production (REPLICA_LEDGER_ENV=gcp) the credentials come from the Google provider's
hooks (`BigQueryHook`, `GCSHook`) for the connection REPLICA_LEDGER_GCP_CONN_ID and the
service accounts of REPLICA_LEDGER_IMPERSONATION_CHAIN: a key, a credential config or an
impersonation chain the operator set on the connection is honoured. Composer's default
connection `google_cloud_default` has none of them, and the hook then falls back to
Application Default Credentials (the environment's service account), as before; so does
a deployment where that default connection is not defined at all (Airflow 3 creates no
default connections). A connection named in REPLICA_LEDGER_GCP_CONN_ID, or an impersonation
chain, that cannot be found fails the task.

Against the emulators (REPLICA_LEDGER_BQ_API_ENDPOINT, STORAGE_EMULATOR_HOST) the clients
stay anonymous. Outside production, without the provider installed (a CLI on a laptop),
the clients use Application Default Credentials. The provider is imported in the
functions below only, at run time: never at DAG parse time.
"""

from __future__ import annotations

import logging
from typing import Any

from replica_ledger.settings import GcpSettings

log = logging.getLogger(__name__)


def _airflow_identity(settings) -> tuple[str, tuple[str, ...]] | None:
    """(connection id, impersonation chain) of production; None outside it."""
    gcp = getattr(settings, "gcp", None)
    if gcp is None:
        return None
    return gcp.gcp_conn_id, tuple(gcp.impersonation_chain)


def _identity(settings) -> tuple[str, tuple[str, ...]]:
    return _airflow_identity(settings) or (GcpSettings.gcp_conn_id, GcpSettings.impersonation_chain)


def _hook(settings, make):
    """`make(gcp_conn_id=..., impersonation_chain=...)`, or None when the default connection
    is not defined and nothing asks for more than Application Default Credentials."""
    from airflow.exceptions import AirflowNotFoundException  # run time only

    conn_id, chain = _identity(settings)
    try:
        return make(gcp_conn_id=conn_id, impersonation_chain=list(chain) or None)
    except AirflowNotFoundException:
        if conn_id != GcpSettings.gcp_conn_id or chain:
            raise
        log.info("no Airflow connection %s: Application Default Credentials", conn_id)
        return None


def bigquery_hook(settings, location: str | None = None):
    """The provider's BigQueryHook for the production connection and impersonation chain."""
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook  # run time only

    return _hook(settings, lambda **identity: BigQueryHook(use_legacy_sql=False, location=location, **identity))


def gcs_hook(settings):
    """The provider's GCSHook for the production connection and impersonation chain."""
    from airflow.providers.google.cloud.hooks.gcs import GCSHook  # run time only

    return _hook(settings, GCSHook)


def bigquery_client(settings, project: str, location: str) -> Any:
    """A google-cloud-bigquery Client acting in `project`, jobs in `location`."""
    from google.cloud import bigquery  # heavy: imported at run time only

    endpoint = settings.bq_api_endpoint
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project,
            location=location,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
        )
    hook = None if _airflow_identity(settings) is None else bigquery_hook(settings, location)
    if hook is None:
        return bigquery.Client(project=project, location=location)
    return hook.get_client(project_id=project, location=location)


def storage_client(settings) -> Any:
    """A google-cloud-storage Client: the emulator's (it follows STORAGE_EMULATOR_HOST, as
    anonymous), the hook's in production, else Application Default Credentials."""
    from google.cloud import storage  # heavy: imported at run time only
    from google.cloud.storage._helpers import _get_storage_emulator_override

    # The library reads STORAGE_EMULATOR_HOST itself; asking it keeps one reader of that name.
    hook = None if _get_storage_emulator_override() or _airflow_identity(settings) is None else gcs_hook(settings)
    if hook is None:
        return storage.Client()
    return hook.get_conn()

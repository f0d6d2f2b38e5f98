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
hooks' module (`replica_ledger.airflow.google_hooks`) only, at run time: never at DAG parse time.
"""

from __future__ import annotations

from typing import Any


def _in_production(settings) -> bool:
    return getattr(settings, "gcp", None) is not None


def _hooks():
    """The provider hooks' module (replica_ledger.airflow.google_hooks): Airflow is imported there."""
    from replica_ledger.airflow import google_hooks  # run time only, in production

    return google_hooks


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
    hook = None if not _in_production(settings) else _hooks().bigquery_hook(settings, location)
    if hook is None:
        return bigquery.Client(project=project, location=location)
    return hook.get_client(project_id=project, location=location)


def storage_client(settings) -> Any:
    """A google-cloud-storage Client: the emulator's (it follows STORAGE_EMULATOR_HOST, as
    anonymous), the hook's in production, else Application Default Credentials."""
    from google.cloud import storage  # heavy: imported at run time only
    from google.cloud.storage._helpers import _get_storage_emulator_override

    # The library reads STORAGE_EMULATOR_HOST itself; asking it keeps one reader of that name.
    hook = None if _get_storage_emulator_override() or not _in_production(settings) else _hooks().gcs_hook(settings)
    if hook is None:
        return storage.Client()
    return hook.get_conn()

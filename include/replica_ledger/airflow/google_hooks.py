"""The Google provider's hooks (`BigQueryHook`, `GCSHook`) for the production connection
(REPLICA_LEDGER_GCP_CONN_ID) and impersonation chain (REPLICA_LEDGER_IMPERSONATION_CHAIN):
the credentials of `warehouse.google`'s clients in production. Imported at run time only.
"""

from __future__ import annotations

import logging

from replica_ledger.settings import GcpSettings

log = logging.getLogger(__name__)


def _identity(settings) -> tuple[str, tuple[str, ...]]:
    gcp = getattr(settings, "gcp", None)
    if gcp is None:
        return GcpSettings.gcp_conn_id, GcpSettings.impersonation_chain
    return gcp.gcp_conn_id, tuple(gcp.impersonation_chain)


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

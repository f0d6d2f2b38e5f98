"""dbt docs (lineage) inside the Airflow 3 UI: Browse > dbt Docs.

Airflow 2.11 uses Cosmos's own plugin (a Flask AppBuilder view at /cosmos/dbt_docs,
configured by `[cosmos] dbt_docs_dir`). On Airflow 3, Cosmos 1.15's FastAPI plugin adds
its nav entry without a `url_route`, so the Airflow UI opens it in a new browser tab,
outside Airflow. This plugin serves the same three files (index.html, manifest.json,
catalog.json) from the same setting and registers an external view with a url_route, so
the docs open embedded in the Airflow UI at /plugin/dbt-docs.

Where the docs are read from, first that is set:
  1. `[cosmos] dbt_docs_dir` (AIRFLOW__COSMOS__DBT_DOCS_DIR): a folder or gs://bucket/prefix,
     with `[cosmos] dbt_docs_conn_id` for gs:// (default google_cloud_default);
  2. REPLICA_LEDGER_DBT_DOCS_DIR;
  3. <repo>/.local/dbt_docs (what `make docs` writes).
The files are read per request: a docs run of the DAG shows up without a restart.
"""

from __future__ import annotations

import os
from pathlib import Path

import airflow
from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/replica-ledger-docs"
URL_ROUTE = "dbt-docs"
DOCS_FILES = {
    "index.html": "text/html; charset=utf-8",
    "manifest.json": "application/json",
    "catalog.json": "application/json",
}
_DEFAULT_DOCS_DIR = Path(__file__).resolve().parents[1] / ".local" / "dbt_docs"
_REMOTE_SCHEMES = ("gs://", "s3://", "wasb://", "abfs://", "http://", "https://")


def docs_location() -> tuple[str, str | None]:
    """(folder or URL of the docs, connection id for a remote URL)."""
    from airflow.configuration import conf

    location = (
        conf.get("cosmos", "dbt_docs_dir", fallback=None)
        or os.environ.get("REPLICA_LEDGER_DBT_DOCS_DIR")
        or str(_DEFAULT_DOCS_DIR)
    )
    conn_id = conf.get("cosmos", "dbt_docs_conn_id", fallback=None)
    if location.startswith("gs://") and not conn_id:
        conn_id = "google_cloud_default"
    return location.rstrip("/"), conn_id


def read_docs_file(name: str) -> bytes:
    """The bytes of one docs file; FileNotFoundError when it is not there (yet)."""
    location, conn_id = docs_location()
    if location.startswith(_REMOTE_SCHEMES):
        from airflow.sdk import ObjectStoragePath

        path = ObjectStoragePath(f"{location}/{name}", conn_id=conn_id)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:  # fsspec reports a missing object in several ways
            raise FileNotFoundError(f"{location}/{name}: {exc}") from exc
    return (Path(location) / name).read_bytes()


def api_base_path() -> str:
    """The path part of [api] base_url ('' at the root), so links work behind a prefix."""
    from urllib.parse import urlsplit

    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


def create_app():
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import Response

    dependencies = []
    try:  # every request must come from a user the auth manager knows (cookie or bearer)
        from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
        from airflow.api_fastapi.core_api.security import requires_access_view

        dependencies.append(Depends(requires_access_view(AccessView.WEBSITE)))
    except ImportError:  # pragma: no cover - older 3.x
        pass

    app = FastAPI(title="replica-ledger dbt docs", dependencies=dependencies, docs_url=None, redoc_url=None)

    @app.get("/")
    def root() -> Response:
        return Response(status_code=307, headers={"Location": f"{api_base_path()}{URL_PREFIX}/index.html"})

    @app.get("/{name}")
    def docs_file(name: str) -> Response:
        if name not in DOCS_FILES:
            raise HTTPException(status_code=404, detail=f"not a dbt docs file: {name}")
        try:
            body = read_docs_file(name)
        except FileNotFoundError:
            location, _ = docs_location()
            raise HTTPException(
                status_code=404,
                detail=f"{name} not found in {location}: run `make docs` or the DAG's docs task",
            ) from None
        return Response(
            content=body,
            media_type=DOCS_FILES[name],
            headers={"Cache-Control": "no-cache", "Content-Security-Policy": "frame-ancestors 'self'"},
        )

    return app


class ReplicaLedgerDbtDocsPlugin(AirflowPlugin):
    name = "replica_ledger_dbt_docs"

    if int(airflow.__version__.split(".")[0]) >= 3:
        fastapi_apps = [{"name": "replica_ledger_dbt_docs", "app": create_app(), "url_prefix": URL_PREFIX}]
        external_views = [
            {
                "name": "dbt Docs",
                "href": f"{api_base_path()}{URL_PREFIX}/index.html",
                "url_route": URL_ROUTE,
                "destination": "nav",
                "category": "browse",
            }
        ]

"""Fixtures for the production-path tests: the real DAG file, parsed with REPLICA_LEDGER_ENV=gcp.

No network and no Airflow database: tasks are rendered from the parsed DAG with a
template context for a given snapshot day, and pods are built with the operator's own
``build_pod_request_obj(dry_run=True)``.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile

import pytest

from tests.replica_ledger.gcp.rendering import DAG_FILE, GCP_ENV

if "AIRFLOW_HOME" not in os.environ:
    _home = tempfile.mkdtemp(prefix="replica-ledger-gcp-airflow-")
    os.environ["AIRFLOW_HOME"] = _home
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture(scope="module")
def gcp_env():
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("REPLICA_LEDGER_"):
                patch.delenv(name)
        for name, value in GCP_ENV.items():
            patch.setenv(name, value)
        yield dict(GCP_ENV)


@pytest.fixture(scope="module")
def gcp_dag(gcp_env):
    """The real DAG file, parsed once with the production environment."""
    spec = importlib.util.spec_from_file_location("replica_ledger_daily_gcp_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag

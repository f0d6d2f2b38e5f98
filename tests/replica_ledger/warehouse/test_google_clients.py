"""The GCS and BigQuery clients get their credentials from the Google provider's hooks:
the Airflow connection REPLICA_LEDGER_GCP_CONN_ID and the service accounts of
REPLICA_LEDGER_IMPERSONATION_CHAIN reach the clients; the emulators keep anonymous
clients; without a default connection, Application Default Credentials.

Real hooks, a real connection (an AIRFLOW_CONN_ environment variable, JSON) holding a
service account key made here; building credentials and clients sends no request.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import impersonated_credentials
from google.auth.credentials import AnonymousCredentials
from google.oauth2 import service_account

from replica_ledger.settings import load_settings
from replica_ledger.warehouse.google import bigquery_client, storage_client
from tests.replica_ledger.gcp.rendering import GCP_ENV, PROJECT

CHAIN = ("deployer@acme-ops.iam.gserviceaccount.com", "ledger@acme-ledger-prod.iam.gserviceaccount.com")
KEY_ACCOUNT = "composer-worker@acme-ops.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def key() -> dict:
    """A service account key file's content (a fresh RSA key; never used to sign a request)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "acme-ops",
        "private_key_id": "0" * 40,
        "private_key": pem,
        "client_email": KEY_ACCOUNT,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


@pytest.fixture
def production(monkeypatch, key):
    """REPLICA_LEDGER_ENV=gcp with the connection `ledger_gcp` (a key, a project) and a chain."""
    for name, value in GCP_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REPLICA_LEDGER_BQ_API_ENDPOINT", raising=False)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("REPLICA_LEDGER_GCP_CONN_ID", "ledger_gcp")
    monkeypatch.setenv("REPLICA_LEDGER_IMPERSONATION_CHAIN", ",".join(CHAIN))
    connection = {"conn_type": "google_cloud_platform", "extra": {"keyfile_dict": key, "project": "acme-ops"}}
    monkeypatch.setenv("AIRFLOW_CONN_LEDGER_GCP", json.dumps(connection))
    return monkeypatch


def assert_impersonates(credentials, chain=CHAIN) -> None:
    assert isinstance(credentials, impersonated_credentials.Credentials)
    # The last account acts; the ones before it delegate; the key's account is the source.
    assert (credentials._target_principal, credentials._delegates or []) == (chain[-1], list(chain[:-1]))
    assert credentials._source_credentials.service_account_email == KEY_ACCOUNT


def test_the_connection_and_the_impersonation_chain_reach_the_bigquery_client(production):
    client = bigquery_client(load_settings(), PROJECT, "europe-west1")
    assert (client.project, client.location) == (PROJECT, "europe-west1")
    assert_impersonates(client._credentials)


def test_the_connection_and_the_impersonation_chain_reach_the_storage_client(production):
    client = storage_client(load_settings())
    assert client.project == "acme-ops"  # the connection's project
    assert_impersonates(client._credentials)


def test_a_chain_set_on_the_connection_itself_is_honoured(production, key):
    production.delenv("REPLICA_LEDGER_IMPERSONATION_CHAIN")
    extra = {"keyfile_dict": key, "project": "acme-ops", "impersonation_chain": CHAIN[1]}
    production.setenv("AIRFLOW_CONN_LEDGER_GCP", json.dumps({"conn_type": "google_cloud_platform", "extra": extra}))
    assert_impersonates(bigquery_client(load_settings(), PROJECT, "EU")._credentials, chain=CHAIN[1:])


def test_without_a_chain_the_connection_s_key_acts(production):
    production.delenv("REPLICA_LEDGER_IMPERSONATION_CHAIN")
    credentials = bigquery_client(load_settings(), PROJECT, "EU")._credentials
    assert isinstance(credentials, service_account.Credentials)
    assert credentials.service_account_email == KEY_ACCOUNT


def test_the_emulators_keep_anonymous_clients(production):
    production.setenv("REPLICA_LEDGER_BQ_API_ENDPOINT", "http://127.0.0.1:9050")
    production.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:4443")
    settings = load_settings()
    assert isinstance(bigquery_client(settings, PROJECT, "EU")._credentials, AnonymousCredentials)
    assert isinstance(storage_client(settings)._credentials, AnonymousCredentials)


def test_without_the_default_connection_application_default_credentials(production, key, tmp_path):
    """Composer's ADC keeps working when google_cloud_default is not defined (Airflow 3 makes none)."""
    for name in ("REPLICA_LEDGER_GCP_CONN_ID", "REPLICA_LEDGER_IMPERSONATION_CHAIN", "AIRFLOW_CONN_LEDGER_GCP"):
        production.delenv(name)
    production.delenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", raising=False)
    adc = tmp_path / "adc.json"
    adc.write_text(json.dumps(key))
    production.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    credentials = bigquery_client(load_settings(), PROJECT, "EU")._credentials
    assert isinstance(credentials, service_account.Credentials)
    assert credentials.service_account_email == KEY_ACCOUNT


def test_a_named_connection_that_does_not_exist_fails(production):
    from airflow.exceptions import AirflowNotFoundException

    production.delenv("AIRFLOW_CONN_LEDGER_GCP")
    with pytest.raises(AirflowNotFoundException, match="ledger_gcp"):
        bigquery_client(load_settings(), PROJECT, "EU")

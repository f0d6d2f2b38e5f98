"""The BigQuery emulator for the dbt-on-BigQuery tests: one per session, started on first use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tooling.emulators import bigquery


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bigquery.BigQueryEmulator]:
    """local-bigquery (patched) on a free port of 127.0.0.1, its tables in a temporary folder."""
    if not bigquery.is_installed():
        pytest.skip(f"the BigQuery emulator venv {bigquery.VENV} is not installed: make .venv/bq/.installed")
    work = tmp_path_factory.mktemp("bigquery_emulator")
    emulator = bigquery.start(data_dir=work / "data", log_path=work / "bigquery.log")
    yield emulator
    emulator.stop()

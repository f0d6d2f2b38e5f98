"""dbt's own unit tests (the `unit_tests:` of the models' YAML), on DuckDB, without data.

A unit test needs its model's parents to exist (dbt reads their columns), so the project is
built `--empty` (every model with no rows) over empty raw tables: the unit tests run before
each model, and no data test runs. Quick enough for `make test-fast`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.settings import Settings
from replica_ledger.warehouse import duckdb as duckdb_warehouse


def test_every_dbt_unit_test_passes(tmp_path: Path):
    settings = replace(Settings(), duckdb_path=tmp_path / "warehouse.duckdb", dbt_target="duckdb")
    with duckdb_warehouse.connect(settings.duckdb_path) as con:
        duckdb_warehouse.ensure_raw_schema(con)
    target = tmp_path / "target"
    command = ["build", "--empty", "--exclude", "test_type:data", "--target-path", str(target)]
    run_dbt(settings, [*command, "--vars", build_vars(settings)])  # raises DbtFailed naming a failing test
    results = json.loads((target / "run_results.json").read_text())["results"]
    unit_tests = [result for result in results if result["unique_id"].startswith("unit_test.")]
    assert unit_tests, "no dbt unit test ran"
    assert {result["status"] for result in unit_tests} == {"pass"}

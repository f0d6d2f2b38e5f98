"""The raw tables' schema (raw/schema.py) is the one the dbt sources read: same tables,
same columns, same order, in the sources YAML of every folder under models/staging/."""

from __future__ import annotations

from pathlib import Path

import yaml

from replica_ledger.raw.record import LOAD_RECORD
from replica_ledger.raw.schema import DAY_TABLES, RAW_TABLES

STAGING = Path(__file__).resolve().parents[3] / "dbt_project" / "models" / "staging"


def source_tables() -> dict[str, list[str]]:
    """table -> its column names in order, from every sources YAML under staging/*/."""
    tables: dict[str, list[str]] = {}
    for path in sorted(STAGING.glob("*/_*__sources.yml")):
        for source in yaml.safe_load(path.read_text())["sources"]:
            for table in source["tables"]:
                assert table["name"] not in tables, f"{table['name']} is declared twice ({path})"
                tables[table["name"]] = [column["name"] for column in table.get("columns", [])]
    return tables


def test_every_source_table_has_the_columns_of_raw_schema_in_order():
    declared = source_tables()
    assert declared, f"no sources YAML found under {STAGING}"
    for table, columns in declared.items():
        assert table in RAW_TABLES, f"{table} is a dbt source but not in raw/schema.py RAW_TABLES"
        assert columns == list(RAW_TABLES[table]), f"{table}: sources YAML and RAW_TABLES differ"


def test_every_raw_table_but_the_load_record_is_a_dbt_source():
    # day_loads is the loader's own record (raw/record.py); dbt never reads it.
    assert set(RAW_TABLES) - set(source_tables()) == {LOAD_RECORD}


def test_the_day_tables_are_raw_tables_keyed_by_the_day():
    assert set(DAY_TABLES) <= set(RAW_TABLES)
    assert all(next(iter(RAW_TABLES[table])) == "snapshot_date" for table in DAY_TABLES)
    assert "ped_limit_changes" not in DAY_TABLES  # reloaded whole, not by day

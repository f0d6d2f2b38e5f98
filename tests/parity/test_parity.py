"""Rules both Python and SQL must hold, run through both from one table of cases each
(cases_*.py): the Python function, and the dbt SQL really executed on DuckDB.

- change-row validity: changelog.usable against int_limit_changes__validated, built by dbt
  from a raw table of the cases (loaded by the same reader the pipeline uses);
- the namespace scope: audit.writes.in_scope against the macro ledger_namespace_in_scope,
  evaluated by `dbt show` over the cases.
"""

from __future__ import annotations

import json
from dataclasses import replace

import duckdb
import pytest

from replica_ledger.audit.writes import in_scope
from replica_ledger.changelog import FIELDS, change_row, usable
from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.settings import EXCLUDED_NAMESPACES_VAR, Settings, SettingsError, load_settings
from tests.parity import cases_change_rows, cases_scope

RAW_COLUMNS = ("arrival_seq", *FIELDS, "raw_line", "parse_error")


def python_usable(text: str) -> bool:
    try:
        document = json.loads(text)
    except ValueError:
        return False
    return usable(document)


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    work = tmp_path_factory.mktemp("parity")
    return replace(Settings(), duckdb_path=work / "warehouse.duckdb", dbt_target="duckdb")


def show(settings: Settings, sql: str, **more_vars) -> list[dict]:
    """Rows of `dbt show --inline` (dbt's own connection: DuckDB allows no second one here)."""
    target = str(settings.duckdb_path.parent / "target")
    dbt_vars = build_vars(settings, **more_vars)
    table = run_dbt(settings, ["show", "--inline", sql, "--limit", "-1", "--target-path", target, "--vars", dbt_vars])
    table = table.results[0].agate_table
    return [dict(zip(table.column_names, row, strict=True)) for row in table.rows]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@pytest.fixture(scope="module")
def sql_reasons(settings: Settings) -> dict[str, str | None]:
    """The cases as the raw change log, then dbt builds int_limit_changes__validated."""
    rows = [change_row(seq, text) for seq, (_, text, _) in enumerate(cases_change_rows.CASES, start=1)]
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("create schema if not exists raw")
        con.execute(
            "create table raw.ped_limit_changes ("
            + ", ".join(f"{name} {'bigint' if name == 'arrival_seq' else 'varchar'}" for name in RAW_COLUMNS)
            + ")"
        )
        con.executemany(
            f"insert into raw.ped_limit_changes values ({', '.join('?' for _ in RAW_COLUMNS)})",
            [[row[name] for name in RAW_COLUMNS] for row in rows],
        )
    target = str(settings.duckdb_path.parent / "target")
    select = ["stg_ped__limit_changes", "int_limit_changes__validated"]
    run_dbt(settings, ["run", "--select", *select, "--target-path", target, "--vars", build_vars(settings)])
    found = show(settings, "select arrival_seq, quarantine_reason from {{ ref('int_limit_changes__validated') }}")
    names = [name for name, _, _ in cases_change_rows.CASES]
    return {names[row["arrival_seq"] - 1]: row["quarantine_reason"] for row in found}


def test_the_change_row_cases_are_distinct():
    names = [name for name, _, _ in cases_change_rows.CASES]
    ids = [change_row(0, text).get("change_id") for _, text, _ in cases_change_rows.CASES]
    assert len(set(names)) == len(names)
    assert len({i for i in ids if i}) == len([i for i in ids if i])


@pytest.mark.parametrize(
    ("name", "text", "reason"), cases_change_rows.CASES, ids=[c[0] for c in cases_change_rows.CASES]
)
def test_change_row_validity_is_the_same_in_python_and_sql(sql_reasons, name, text, reason):
    assert (sql_reasons[name], python_usable(text)) == (reason, reason is None)


@pytest.fixture(scope="module")
def sql_scope(settings: Settings) -> dict[int, bool]:
    """Every case through the macro, in one `dbt show` (each case with its own patterns)."""
    selects = [
        f"select {index} as case_index,"
        f" {{{{ ledger_namespace_in_scope('namespace', var('parity_patterns')[{index}]) }}}} as in_scope"
        f" from (select {_sql_text(namespace)} as namespace)"
        for index, (_, namespace, _) in enumerate(cases_scope.CASES)
    ]
    patterns = [list(patterns) for patterns, _, _ in cases_scope.CASES]
    rows = show(settings, "\nunion all\n".join(selects), parity_patterns=patterns)
    return {int(row["case_index"]): row["in_scope"] for row in rows}


@pytest.mark.parametrize(("index", "case"), list(enumerate(cases_scope.CASES)), ids=lambda v: repr(v)[:60])
def test_the_namespace_scope_is_the_same_in_python_and_sql(sql_scope, index, case):
    patterns, namespace, excluded = case
    assert (in_scope(namespace, patterns), sql_scope[index]) == (not excluded, not excluded)


def test_the_cases_cover_the_characters_the_two_languages_read_differently():
    used = "".join(pattern for patterns, _, _ in cases_scope.CASES for pattern in patterns)
    assert {"*", "?", "[", "_", "%"} <= set(used)


@pytest.mark.parametrize("pattern", ["kube-?", "team-[ab]", "team_a", "team%", "Kube-system", "a" * 64, "team a"])
def test_settings_refuse_a_pattern_outside_the_language(pattern):
    with pytest.raises(SettingsError, match="namespace pattern"):
        load_settings({EXCLUDED_NAMESPACES_VAR: f"kube-system,{pattern}"})


def test_settings_take_names_and_stars():
    environ = {EXCLUDED_NAMESPACES_VAR: "kube-system, gke-managed-*,*-sandbox"}
    assert load_settings(environ).excluded_namespaces == ("kube-system", "gke-managed-*", "*-sandbox")

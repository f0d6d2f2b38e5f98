"""Airflow is imported only inside replica_ledger/airflow/: every other module (the steps, the
alerts, the warehouse code, the collector pod's and the PED CLI's packages) runs without it.

An AST walk over the source, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "include" / "replica_ledger"
AIRFLOW_PACKAGE = PACKAGE / "airflow"
#: Known and to be moved into airflow/: module -> why it is here. Listed exactly, so that the
#: list shrinks when a module moves and nothing new joins it unnoticed.
NOT_MOVED_YET: dict[str, str] = {}


def airflow_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of each import of `airflow` or one of its submodules in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name) for name in names if name == "airflow" or name.startswith("airflow.")]
    return found


def test_the_walk_finds_top_level_and_nested_imports_and_nothing_else():
    source = (
        "import airflow\n"
        "from replica_ledger.airflow import compat\n"
        "def f():\n"
        "    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook\n"
        "    import airflowish\n"
    )
    assert airflow_imports(source) == [(1, "airflow"), (4, "airflow.providers.slack.hooks.slack_webhook")]


def test_no_module_outside_the_airflow_package_imports_airflow():
    modules = [path for path in PACKAGE.rglob("*.py") if AIRFLOW_PACKAGE not in path.parents]
    assert any(path.parts[-2] == "collector" for path in modules)
    assert any(path.parts[-2] == "ped" for path in modules)
    offenders = {
        path.relative_to(PACKAGE).as_posix(): airflow_imports(path.read_text(encoding="utf-8")) for path in modules
    }
    assert {module for module, found in offenders.items() if found} == set(NOT_MOVED_YET)

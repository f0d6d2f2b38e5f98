"""The import graph of include/replica_ledger has no cycle.

Every `import` and `from ... import` statement counts, at module level and inside
functions alike: an import inside a function is a dependency too, only a later one, and a
cycle through it is as hard to untangle. An edge goes to the module named (`from a.b import
c` names a.b.c when that is a module, else the package a.b). The implicit run of a parent
package's __init__ is not an edge: Python finishes it first, whatever the child imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "include" / "replica_ledger"


def module_names(root: Path) -> dict[str, Path]:
    base = root.parent
    names = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = module_names(root)
    top = root.name
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
                ]
            for target in targets:
                if not (target == top or target.startswith(top + ".")):
                    continue
                while target not in modules and "." in target:  # `import a.b.c` of a name in a.b
                    target = target.rsplit(".", 1)[0]
                if target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 50 and "replica_ledger.warehouse.duckdb" in graph
    assert cycles(graph) == []


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    package = tmp_path / "replica_ledger"
    (package / "raw").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "raw" / "__init__.py").write_text("")
    (package / "raw" / "ndjson.py").write_text("from replica_ledger.warehouse import TABLES\n")
    (package / "warehouse.py").write_text("def load():\n    from .raw import ndjson\n")
    (package / "alone.py").write_text("import replica_ledger.raw.ndjson\n")
    assert cycles(import_graph(package)) == [["replica_ledger.raw.ndjson", "replica_ledger.warehouse"]]

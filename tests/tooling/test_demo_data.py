"""The committed demo/ folder is exactly what `python -m tooling.demo_data demo` writes."""

from __future__ import annotations

import filecmp
from pathlib import Path

from tooling.demo_data import write_demo

DEMO = Path(__file__).resolve().parents[2] / "demo"


def files_under(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_demo_regenerates_byte_for_byte(tmp_path):
    write_demo(tmp_path)
    expected = [name for name in files_under(DEMO) if name != "README.md"]
    assert files_under(tmp_path) == expected
    _, mismatch, errors = filecmp.cmpfiles(DEMO, tmp_path, expected, shallow=False)
    assert mismatch == [] and errors == []

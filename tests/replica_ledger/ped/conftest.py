"""Shared helpers for the PED tests: run the CLI in-process and capture what it says."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from replica_ledger.ped.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
FIXED_NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def out_lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


@pytest.fixture
def ped():
    """ped(*argv, env={}, now=..., **injected) -> Result; env defaults to empty (no GITHUB_*)."""

    def run(*argv, env=None, now=FIXED_NOW, **kwargs) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main([str(arg) for arg in argv], env={} if env is None else env, now=now, out=out, err=err, **kwargs)
        return Result(code, out.getvalue(), err.getvalue())

    return run

"""Reading what a collector run left behind, for collector tests and the benchmark."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from replica_ledger import clock

CLUSTER = "gke-test"


def snapshot_date() -> str:
    """The day the collector may capture now (the tests' clock): the collector refuses a
    --date whose capture window [D+1 00:00Z, D+2 00:00Z) does not hold now, so it is the day
    that ended last midnight UTC. Read when a run starts, never when a module is imported."""
    return (clock.today() - timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class CollectorRun:
    exit_code: int
    stderr: str
    output: Path

    @property
    def last_stderr_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""

    def day_dir(self, date: str | None = None) -> Path:
        return self.output / f"dt={date or snapshot_date()}"


def read_snapshot(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return json.loads(raw)


def items_of_kind(snapshot: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [item for item in snapshot["items"] if item["kind"] == kind]

"""How fast this machine runs Python right now: a fixed, single-threaded workload, timed.

`make test` prints it before the suites start (scripts/test.sh), so two runs' wall times can
be told apart from the machine they ran on: the same code measured on a slower (or busier)
machine is slower, and this figure says by how much. The workload is pure Python (what the
suites spend most of their CPU on: Airflow, dbt's Jinja, the emulator's SQL translation),
the same work on every run: the best of three rounds.
"""

from __future__ import annotations

import json
import re
import time

ROUNDS = 3
BATCHES = 250
_WORD = re.compile(r"[a-z]+_[0-9]+")


def workload(batches: int) -> int:
    """Dicts, strings, a regex and JSON, in a fixed amount."""
    total = 0
    for batch in range(batches):
        rows = [{"name": f"api_{index}", "team": f"team_{index % 7}", "max": index % 9} for index in range(2_000)]
        text = json.dumps(rows)
        total += sum(row["max"] for row in json.loads(text) if row["team"] != f"team_{batch % 7}")
        total += len(_WORD.findall(text))
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["team"]] = counts.get(row["team"], 0) + row["max"]
        total += max(counts.values())
    return total


def seconds() -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        workload(BATCHES)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    print(f"machine speed: the fixed Python workload took {seconds():.2f} s (best of {ROUNDS}; bench/machine_speed.py)")


if __name__ == "__main__":
    main()

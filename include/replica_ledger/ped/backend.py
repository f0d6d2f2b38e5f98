"""What every change-log backend does: append under the append-only rule, and read back.

The rule is the contract's: the log is append-only and keyed by ``change_id``. Appending a
row whose id is new records it (``accepted``); an id already recorded with identical content
(normal form) is a ``noop``; an id recorded with different content is a ``conflict`` and
nothing is written: the first row stands.

A retry of the same PED commit without ``--changed-at`` gets a fresh "now"; so when the
change's ``changed_at`` was defaulted, it is left out of the comparison (the first
recording's time stands).

Backends: :mod:`.jsonl` (a local file), :mod:`.bigquery` (a table); :mod:`.destination`
picks one from a ``--log`` value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from replica_ledger.changelog import differences

if TYPE_CHECKING:
    from replica_ledger.ped.record import Change

ACCEPTED = "accepted"
NOOP = "noop"
CONFLICT = "conflict"


@dataclass
class Outcome:
    status: str  # accepted | noop | conflict
    message: str
    differences: list[str] = field(default_factory=list)


class ChangeLog(Protocol):
    dest: str

    def append(self, change: Change) -> Outcome: ...

    def read_rows(self) -> list[dict]:
        """All rows in arrival order (bad rows included, as far as they parse)."""
        ...


def compare(change: Change, recorded: dict, where: str, dest: str) -> Outcome:
    """The outcome of appending ``change`` when ``recorded`` already holds its change_id."""
    ignore = ("changed_at",) if change.changed_at_defaulted else ()
    diffs = differences(recorded, change.row, ignore=ignore)
    if not diffs:
        return Outcome(NOOP, f"no-op: change {change.change_id} is already recorded in {dest} ({where})")
    return Outcome(
        CONFLICT,
        f"conflict: change {change.change_id} is already recorded in {dest} ({where}) with different "
        f"content ({'; '.join(diffs)}); the change log is append-only and the first row stands",
        diffs,
    )

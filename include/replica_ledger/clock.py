"""The product's one clock: every "now" and "today" of the product is read here.

Two ways to set it, both for tests and demos, never for production:

* in-process, :func:`use` (a callable returning an aware datetime): the tests' ``clock``
  fixture (tests/conftest.py) owns it, so that a test is the same at any hour, and a test can
  move the clock across midnight UTC while the code under test runs;
* for a subprocess (the collector CLI, ``scripts/run_days.py``), the ``REPLICA_LEDGER_NOW``
  variable: an ISO-8601 instant with its UTC offset, the clock of the test that started it.
  The process's clock starts there when the process starts and advances in real time (so
  that two timestamps of one run still differ).

Why not a production knob: a wrong clock would label today's cluster state as another day
or silence an alert. So the variable is refused (an error, not ignored) when
``REPLICA_LEDGER_ENV=gcp``, and ``load_settings`` refuses it there too, when the DAG is
parsed. The collector pod's image copies this module (it reads the clock for ``--date``);
its pod is never given the variable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

NOW_VAR = "REPLICA_LEDGER_NOW"
# replica_ledger.settings.ENV_VAR, spelled here too: the collector's image has no settings module.
_ENV_VAR = "REPLICA_LEDGER_ENV"

_override: Callable[[], datetime] | None = None
_PROCESS_START = time.monotonic()


class ClockError(RuntimeError):
    """The clock override is malformed, or set where it must not be (production)."""


def parse_instant(raw: str) -> datetime:
    """An ISO-8601 instant with an offset (``Z`` allowed) as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ClockError(f"{NOW_VAR}={raw!r} is not an ISO-8601 instant (e.g. 2026-12-05T23:50:00Z)") from None
    if moment.tzinfo is None:
        raise ClockError(f"{NOW_VAR}={raw!r} has no UTC offset (e.g. 2026-12-05T23:50:00Z)")
    return moment.astimezone(UTC)


def env_override(environ: dict[str, str] | os._Environ[str] | None = None) -> datetime | None:
    """The instant ``REPLICA_LEDGER_NOW`` names, or None; ClockError in production."""
    env = os.environ if environ is None else environ
    raw = (env.get(NOW_VAR) or "").strip()
    if not raw:
        return None
    if (env.get(_ENV_VAR) or "").strip() == "gcp":
        raise ClockError(f"{NOW_VAR} is set with {_ENV_VAR}=gcp: production runs on the real clock")
    return parse_instant(raw)


def now() -> datetime:
    """The current instant, aware, in UTC."""
    if _override is not None:
        moment = _override()
        if moment.tzinfo is None:
            raise ClockError("the clock override returned a naive datetime")
        return moment.astimezone(UTC)
    start = env_override()
    if start is None:
        return datetime.now(UTC)
    return start + timedelta(seconds=time.monotonic() - _PROCESS_START)


def today() -> date:
    """Today's date in UTC."""
    return now().date()


@contextmanager
def use(source: Callable[[], datetime]) -> Iterator[None]:
    """Within the block, :func:`now` is ``source()`` (in this process; see ``REPLICA_LEDGER_NOW``
    for a subprocess)."""
    global _override
    previous, _override = _override, source
    try:
        yield
    finally:
        _override = previous

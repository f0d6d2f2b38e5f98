"""Settings for a command line (`report`, `docs`, `scripts/run_days.py`): what is wrong is
printed on one line to stderr and the command exits 2, with no traceback.

Apart from settings.py because the warehouse's own check (can this command write it?) needs
the warehouse seam, which imports settings.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from replica_ledger.settings import Settings, SettingsError, load_settings


def settings_for_command(environ: Mapping[str, str] | None = None, *, warehouse: bool = False) -> Settings:
    """``load_settings``, and with ``warehouse`` (the command writes it) the warehouse's
    `writable_problem`, both reported as ``error: ...`` and exit status 2."""
    try:
        settings = load_settings(environ)
    except SettingsError as exc:
        _fail(str(exc))
    if warehouse:
        from replica_ledger.warehouse import open_warehouse

        problem = open_warehouse(settings).writable_problem()
        if problem:
            _fail(problem)
    return settings


def _fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)

"""Local mode: messages written to a folder instead of Slack.

Only locally: in production (REPLICA_LEDGER_ENV=gcp) there is no outbox (``outbox_of``), a
route without its Slack connection fails instead (``deliver``).

``<outbox>/<name>.json`` holds the exact payload that would be posted; ``<name>.txt`` a
readable rendering of it. Files are written atomically (temp file + rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from replica_ledger.alerts.redact import redact


def default_outbox_dir() -> Path:
    """The configured outbox: ``$REPLICA_LEDGER_SLACK_OUTBOX``, else ``<local dir>/outbox``.

    Same rule as the breach alerts (settings.py), so a failure notice lands in the same
    folder whatever the task's working directory is.
    """
    from replica_ledger.settings import load_settings

    return load_settings().slack_outbox


def outbox_of(settings: Any) -> Path | None:
    """Where a route without a Slack connection writes: the settings' outbox locally, nowhere
    (None: the route fails) in production, where a file on a worker's disk reaches nobody."""
    return None if settings.gcp is not None else settings.slack_outbox


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outbox(outbox_dir: str | Path, stem: str, payload: dict[str, Any], text: str) -> Path:
    """Write ``<stem>.json`` (payload) and ``<stem>.txt`` (text); return the JSON path."""
    outbox = Path(outbox_dir)
    json_path = outbox / f"{stem}.json"
    # redact() is a no-op for our own payloads; it guards against a secret in the data.
    _atomic_write(json_path, redact(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False)) + "\n")
    _atomic_write(outbox / f"{stem}.txt", redact(text))
    return json_path

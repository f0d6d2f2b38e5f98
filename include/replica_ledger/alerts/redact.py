"""Keep webhook URLs and tokens out of logs, messages and files."""

from __future__ import annotations

import logging
import re
import threading

REDACTED = "***"

# Slack webhook URLs in any form, even ones never registered here.
_WEBHOOK_RE = re.compile(r"https?://hooks\.slack(?:-gov)?\.com/\S+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"\bT[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{12,}\b")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(*values: str | None) -> None:
    """Remember values (webhook URL, token) that must never be printed."""
    with _lock:
        for v in values:
            if v and len(v.strip()) >= 4:
                _secrets.add(v.strip())


def redact(text: object) -> str:
    """``text`` with every registered secret and anything that looks like a webhook replaced."""
    out = str(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        out = out.replace(s, REDACTED)
    out = _WEBHOOK_RE.sub(REDACTED, out)
    return _TOKEN_RE.sub(REDACTED, out)


class RedactingFilter(logging.Filter):
    """Logging filter that rewrites records so that they carry no secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks may quote URLs; keep the type, drop the details.
            exc = record.exc_info[1]
            record.msg = f"{record.msg} [{type(exc).__name__}: {redact(exc)}]"
            record.exc_info = None
            record.exc_text = None
        return True


_CLIENT_LOGGER = "replica_ledger.alerts.slack_client"


def client_logger() -> logging.Logger:
    """Logger handed to slack_sdk's WebhookClient.

    slack_sdk logs the full request URL (which contains the token) at DEBUG, and at INFO when
    its logger's own level is NOTSET. This logger has an explicit WARNING level and a
    redacting filter, so neither happens.
    """
    logger = logging.getLogger(_CLIENT_LOGGER)
    logger.setLevel(logging.WARNING)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger

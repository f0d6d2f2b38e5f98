"""Errors the collector reports as one line on stderr, each with its exit status."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2  # argparse's own status for bad arguments
EXIT_ACCESS_DENIED = 3


class CollectorError(Exception):
    """A failure the operator can act on; its message is printed as is, on one line."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        # One line, whatever the API server put in its Status message.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class AccessDenied(CollectorError):
    """401/403 from the API server: retrying cannot help, RBAC or credentials must change."""

    exit_code = EXIT_ACCESS_DENIED


class SettingsError(CollectorError):
    """A REPLICA_LEDGER_COLLECTOR_* variable that cannot be used: a usage error, like a bad flag."""

    exit_code = EXIT_USAGE


class ListExpired(Exception):
    """410 Gone: the continue token expired; the list must start again from the first page."""

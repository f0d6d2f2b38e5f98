"""Errors the collector reports as one line on stderr, each with its exit status.

Exit statuses (docs/collector.md, "Failures"):

    0  the snapshot was written
    1  a transient fault outlasted the retries (timeouts, refused connections, 429, 5xx),
       or the output could not be written or uploaded: a later run may succeed
    2  bad arguments or REPLICA_LEDGER_COLLECTOR_* settings
    3  access denied (401/403): fix RBAC or the credentials
    4  permanent fault: unusable kubeconfig or in-cluster config, bad server URL, TLS or
       protocol mismatch, untrusted certificate, 404 or another answer no retry can change
    5  the total deadline (REPLICA_LEDGER_COLLECTOR_DEADLINE_SECONDS) ran out
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2  # argparse's own status for bad arguments
EXIT_ACCESS_DENIED = 3
EXIT_PERMANENT = 4
EXIT_DEADLINE = 5


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


class PermanentError(CollectorError):
    """A fault no retry can fix (configuration, TLS, protocol, 404): it is reported after one try."""

    exit_code = EXIT_PERMANENT


class DeadlineExceeded(CollectorError):
    """The capture ran out of its total time budget, or a retry would only start after it."""

    exit_code = EXIT_DEADLINE


class SettingsError(CollectorError):
    """A REPLICA_LEDGER_COLLECTOR_* variable that cannot be used: a usage error, like a bad flag."""

    exit_code = EXIT_USAGE


class ListExpired(Exception):
    """410 Gone: the continue token expired; the resource must be listed again from the start."""

    def __init__(self, resource: str) -> None:
        super().__init__(f"continue token for {resource} expired (410 Gone)")
        self.resource = resource

"""When to retry an HTTP request, and how long to wait first: one policy for the whole product.

Used by the collector (Kubernetes list pages) and by the Slack delivery. Standard library
only: the collector image ships this module next to ``replica_ledger/collector`` and nothing
else of the package.

- :func:`parse_retry_after`: ``Retry-After`` as seconds (RFC 9110: delay-seconds or an
  HTTP-date), from any header mapping.
- :class:`BackoffSchedule`: exponential backoff, optionally capped and jittered, never
  sooner than ``Retry-After``.
- :class:`Deadline`: a total time budget; :func:`retry_wait` refuses a wait that would end
  past it, so a caller gives up at once instead of sleeping into a certain failure.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

# Statuses where the same request may succeed later: throttling and server-side trouble.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES


def parse_retry_after(headers: Mapping[str, Any] | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header; None if absent or unusable.

    Header names match case-insensitively (a plain dict need not be a case-insensitive
    one); a value may be a list, as slack_sdk gives them. A date already past means 0.
    """
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    # The wall clock, not replica_ledger.clock: an HTTP-date is the server's wall time, and
    # what is wanted is a duration from it, not the product's day.
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _header(headers: Mapping[str, Any] | None, lower_name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == lower_name:
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            return None if value is None else str(value).strip()
    return None


@dataclass(frozen=True)
class BackoffSchedule:
    """Exponential backoff: ``base_s * 2 ** (attempt - 1)``, at most ``cap_s``.

    With ``jitter`` the wait is drawn from the upper half of that ceiling ("equal jitter"),
    so many clients retrying one recovering server do not do it in lockstep.

    Retry-After is the server's own estimate, clipped to ``max_retry_after_s`` so one absurd
    header cannot park a caller for hours. By default it is a floor under the backoff; with
    ``exact_retry_after`` it replaces the backoff (Slack asks its clients to wait exactly that).
    """

    base_s: float = 1.0
    cap_s: float = math.inf
    jitter: bool = False
    max_retry_after_s: float = math.inf
    exact_retry_after: bool = False

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after_s is not None:
            retry_after_s = min(retry_after_s, self.max_retry_after_s)
            if self.exact_retry_after:
                return retry_after_s
        ceiling = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        backoff = ceiling / 2 + random.uniform(0, ceiling / 2) if self.jitter else ceiling  # noqa: S311 - not crypto
        return backoff if retry_after_s is None else max(backoff, retry_after_s)


@dataclass
class Deadline:
    """A total time budget, started on creation; ``seconds`` may be math.inf (no deadline)."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    _ends_at: float = field(init=False)

    def __post_init__(self) -> None:
        self._ends_at = self.clock() + self.seconds

    def remaining_s(self) -> float:
        return max(0.0, self._ends_at - self.clock())

    def expired(self) -> bool:
        return self.remaining_s() <= 0.0

    def bound(self, timeout_s: float) -> float:
        """A socket timeout that cannot outlast the deadline (never 0, which means non-blocking)."""
        return max(0.001, min(timeout_s, self.remaining_s()))


def retry_wait(
    schedule: BackoffSchedule,
    attempt: int,
    headers: Mapping[str, Any] | None = None,
    *,
    deadline: Deadline | None = None,
    max_wait_s: float = math.inf,
    now: datetime | None = None,
) -> float | None:
    """The wait before the next attempt after failed attempt ``attempt``, or None to give up now.

    None when the wait exceeds ``max_wait_s`` or would end at or past ``deadline``: waiting
    and then failing anyway would only delay the error.
    """
    wait = schedule.delay_s(attempt, parse_retry_after(headers, now))
    if wait > max_wait_s:
        return None
    if deadline is not None and wait >= deadline.remaining_s():
        return None
    return wait

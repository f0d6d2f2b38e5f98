"""How long to wait before retrying a page: exponential backoff, never less than Retry-After."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from replica_ledger.collector.settings import CollectorSettings

# Statuses where the same request may succeed later: throttling and server-side trouble.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES


def retry_delay_s(
    attempt: int,
    settings: CollectorSettings,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> float:
    """Seconds to sleep after failed attempt number `attempt` (1-based).

    Equal-jitter backoff spreads retries from many collectors (one per cluster) so they
    do not hit a recovering API server in lockstep; Retry-After is the server's own
    estimate, so it is a floor, clipped to max_retry_after_s.
    """
    ceiling = min(settings.backoff_cap_s, settings.backoff_base_s * 2 ** (attempt - 1))
    backoff = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not cryptography
    retry_after = parse_retry_after_s(headers, now)
    if retry_after is None:
        return backoff
    return max(backoff, min(retry_after, settings.max_retry_after_s))


def parse_retry_after_s(headers: Mapping[str, str] | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds (RFC 9110: delay-seconds or an HTTP-date); None if absent or unusable."""
    raw = _header(headers, "Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    # urllib3's HTTPHeaderDict is case-insensitive; a plain dict from elsewhere may not be.
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value.strip()
    return None

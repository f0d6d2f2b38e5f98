"""Tunables of the collector, read from the environment.

The CLI arguments are fixed by the data contract (section 4), so everything operational
(timeouts, retries, page size, compression) is an environment variable with a default
that suits a real GKE API server.

This is the collector's own reader, apart from `replica_ledger.settings` on purpose: the
collector runs alone in its pod image (docker/collector.Dockerfile copies only the collector
modules and http_retry.py), so it cannot import the DAG side's settings. Its variables all
start with REPLICA_LEDGER_COLLECTOR_.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from replica_ledger.collector.errors import SettingsError
from replica_ledger.http_retry import BackoffSchedule

ENV_PREFIX = "REPLICA_LEDGER_COLLECTOR_"
_SUFFIXES = (
    "PAGE_SIZE",
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "MAX_RETRIES",
    "MAX_TIMEOUTS",
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "MAX_RETRY_AFTER",
    "MAX_LIST_RESTARTS",
    "GZIP",
    "DEADLINE_SECONDS",
)
#: Every variable the collector reads.
VARIABLES: tuple[str, ...] = tuple(ENV_PREFIX + suffix for suffix in _SUFFIXES)
#: The DAG's settings (replica_ledger.settings) that share the prefix: which image to run and
#: where its kubeconfig is. A worker's environment holds them beside the collector's own when
#: the collector runs in-process (the local live capture, the demos); the collector image
#: carries no settings.py, so the names are listed here and held to it by a test.
DAG_VARIABLES: tuple[str, ...] = (
    "REPLICA_LEDGER_COLLECTOR_IMAGE",
    "REPLICA_LEDGER_COLLECTOR_KUBECONFIG_KEY",
    "REPLICA_LEDGER_COLLECTOR_KUBECONFIG_SECRET",
)


@dataclass(frozen=True)
class CollectorSettings:
    # kubectl's own default chunk size; keeps one page around 1-3 MB of JSON.
    page_size: int = 500
    connect_timeout_s: float = 10.0
    # Per socket read, not per page: a healthy server starts a 500-item page within a
    # second or two and streams it in well under this.
    read_timeout_s: float = 30.0
    # Retries after the first attempt, per page, for 429, 5xx, timeouts and dropped connections.
    max_retries: int = 5
    # Attempts of one page that may time out in a row: a server that accepted the connection
    # and did not answer twice will not answer a third time soon; give up in ~1 minute, not ~6.
    max_timeouts: int = 2
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 30.0
    # A Retry-After above this is clipped, so one bad header cannot park the task for hours.
    max_retry_after_s: float = 120.0
    # How often one resource may be listed from scratch after 410 Gone (expired continue token).
    max_list_restarts: int = 3
    gzip_local: bool = False
    # The whole capture: listing, writing, uploading. A 50k-object cluster takes well under a
    # minute; five leave room for retries and throttling, and end long before the collector
    # pod's own limit (REPLICA_LEDGER_POD_TIMEOUT_SECONDS, 1800 s), so the operator gets our
    # message rather than a killed pod, and the Airflow task retry comes sooner.
    deadline_s: float = 300.0

    def backoff_schedule(self) -> BackoffSchedule:
        return BackoffSchedule(
            base_s=self.backoff_base_s,
            cap_s=self.backoff_cap_s,
            jitter=True,  # one collector per cluster: keep them from retrying in lockstep
            max_retry_after_s=self.max_retry_after_s,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CollectorSettings:
        env = os.environ if environ is None else environ
        _check_names(env)
        return cls(
            page_size=_positive_int(env, "PAGE_SIZE", cls.page_size),
            connect_timeout_s=_positive_float(env, "CONNECT_TIMEOUT", cls.connect_timeout_s),
            read_timeout_s=_positive_float(env, "READ_TIMEOUT", cls.read_timeout_s),
            max_retries=_non_negative_int(env, "MAX_RETRIES", cls.max_retries),
            max_timeouts=_positive_int(env, "MAX_TIMEOUTS", cls.max_timeouts),
            backoff_base_s=_non_negative_float(env, "BACKOFF_BASE", cls.backoff_base_s),
            backoff_cap_s=_non_negative_float(env, "BACKOFF_CAP", cls.backoff_cap_s),
            max_retry_after_s=_non_negative_float(env, "MAX_RETRY_AFTER", cls.max_retry_after_s),
            max_list_restarts=_non_negative_int(env, "MAX_LIST_RESTARTS", cls.max_list_restarts),
            gzip_local=_flag(env, "GZIP"),
            deadline_s=_positive_float(env, "DEADLINE_SECONDS", cls.deadline_s),
        )


def _check_names(env: Mapping[str, str]) -> None:
    """A mistyped REPLICA_LEDGER_COLLECTOR_* name is an error naming the closest known one."""
    unknown = sorted(
        name for name in env if name.startswith(ENV_PREFIX) and name not in VARIABLES and name not in DAG_VARIABLES
    )
    if not unknown:
        return
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, VARIABLES, n=1, cutoff=0.8)
        parts.append(f"{name} (did you mean {close[0]}?)" if close else f"{name} (see docs/collector.md)")
    raise SettingsError(f"{', '.join(parts)}: not a collector setting")


def _raw(env: Mapping[str, str], suffix: str) -> str | None:
    if suffix not in _SUFFIXES:
        raise ValueError(f"{ENV_PREFIX}{suffix} is not declared in _SUFFIXES")
    value = env.get(ENV_PREFIX + suffix, "").strip()
    return value or None


def _number(env: Mapping[str, str], suffix: str, default: float, kind: type, minimum: float) -> float:
    raw = _raw(env, suffix)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{ENV_PREFIX}{suffix}={raw!r} is not a valid {kind.__name__}") from None
    if not math.isfinite(value):
        raise SettingsError(f"{ENV_PREFIX}{suffix}={raw!r} must be a finite number")
    if value < minimum:
        raise SettingsError(f"{ENV_PREFIX}{suffix}={raw!r} must be >= {minimum}")
    return value


def _positive_int(env: Mapping[str, str], suffix: str, default: int) -> int:
    return int(_number(env, suffix, default, int, 1))


def _non_negative_int(env: Mapping[str, str], suffix: str, default: int) -> int:
    return int(_number(env, suffix, default, int, 0))


def _positive_float(env: Mapping[str, str], suffix: str, default: float) -> float:
    value = _number(env, suffix, default, float, 0)
    if value == 0:
        raise SettingsError(f"{ENV_PREFIX}{suffix} must be > 0")
    return value


def _non_negative_float(env: Mapping[str, str], suffix: str, default: float) -> float:
    return _number(env, suffix, default, float, 0)


def _flag(env: Mapping[str, str], suffix: str) -> bool:
    raw = (_raw(env, suffix) or "0").lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{ENV_PREFIX}{suffix}={raw!r} must be 1 or 0")


def snapshot_date_problem(day: date, now: datetime) -> str | None:
    """Why a capture taken `now` cannot be the snapshot of `day`, or None when it can.

    A snapshot of day D shows the cluster at the end of D, so it is taken in
    `[D + 1 day 00:00Z, D + 2 days 00:00Z)`: the loader rejects a meta file outside
    `[D 00:00Z, D + 2 days 00:00Z)` anyway, and a day that has not ended, or one further
    back, would label today's cluster state as that day. Past days come from the archive.
    """
    day_end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=UTC)
    window_end = day_end + timedelta(days=1)
    now = now.astimezone(UTC)
    if now < day_end:
        return (
            f"--date {day.isoformat()}: that day has not ended yet (it ends at {day_end:%Y-%m-%dT%H:%MZ}); "
            "a snapshot of a day is captured after the day, normally just after midnight UTC"
        )
    if now >= window_end:
        return (
            f"--date {day.isoformat()}: too far back: a capture now ({now:%Y-%m-%dT%H:%M:%SZ}) would label "
            f"today's cluster state as {day.isoformat()}; a snapshot of that day must be captured before "
            f"{window_end:%Y-%m-%dT%H:%MZ}. Past days come from the archive (or stay a gap)"
        )
    return None

"""The product's one retry policy (replica_ledger.http_retry): Retry-After, backoff, deadline."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from replica_ledger.http_retry import BackoffSchedule, Deadline, is_retryable_status, parse_retry_after, retry_wait

NOW = datetime(2026, 10, 12, 0, 4, 31, tzinfo=UTC)


class FakeClock:
    """A monotonic clock the test moves by hand (the Deadline takes any clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": " 0.5 "}, 0.5),
        ({"Retry-After": ["7"]}, 7.0),  # slack_sdk gives header values as lists
        ({"Retry-After": "Mon, 12 Oct 2026 00:04:41 GMT"}, 10.0),
        ({"Retry-After": "Mon, 12 Oct 2026 00:00:00 GMT"}, 0.0),  # already past
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": []}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(headers, expected):
    assert parse_retry_after(headers, now=NOW) == expected


def test_retryable_statuses_are_throttling_and_server_trouble():
    statuses = (400, 401, 403, 404, 410, 429, 500, 501, 502, 503, 504)
    assert [status for status in statuses if is_retryable_status(status)] == [429, 500, 502, 503, 504]


def test_backoff_doubles_up_to_the_cap_with_jitter_in_its_upper_half():
    schedule = BackoffSchedule(base_s=1.0, cap_s=8.0, jitter=True)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [schedule.delay_s(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)


def test_backoff_without_jitter_is_exact():
    schedule = BackoffSchedule(base_s=1.0)
    assert [schedule.delay_s(attempt) for attempt in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]


def test_retry_after_is_a_floor_clipped_to_its_maximum():
    schedule = BackoffSchedule(base_s=0.01, cap_s=0.05, jitter=True, max_retry_after_s=30)
    assert schedule.delay_s(1, retry_after_s=2) == 2.0
    assert schedule.delay_s(1, retry_after_s=86400) == 30.0
    assert 0.005 <= schedule.delay_s(1, retry_after_s=0) <= 0.01  # never sooner than the backoff


def test_exact_retry_after_replaces_the_backoff():
    schedule = BackoffSchedule(base_s=1.0, exact_retry_after=True)
    assert schedule.delay_s(3, retry_after_s=0) == 0.0
    assert schedule.delay_s(3, retry_after_s=1.5) == 1.5
    assert schedule.delay_s(3) == 4.0


def test_retry_wait_gives_up_on_waits_beyond_max_wait():
    schedule = BackoffSchedule(base_s=1.0, exact_retry_after=True)
    assert retry_wait(schedule, 1, {"Retry-After": "30"}, max_wait_s=60) == 30.0
    assert retry_wait(schedule, 1, {"Retry-After": "61"}, max_wait_s=60) is None
    assert retry_wait(schedule, 7, max_wait_s=60) is None  # 64 s of backoff


def test_retry_wait_gives_up_when_the_wait_would_end_past_the_deadline():
    clock = FakeClock()
    deadline = Deadline(10.0, clock=clock)
    schedule = BackoffSchedule(base_s=1.0)
    assert retry_wait(schedule, 1, deadline=deadline) == 1.0
    assert retry_wait(schedule, 1, {"Retry-After": "20"}, deadline=deadline) is None
    clock.now += 9.5
    assert retry_wait(schedule, 1, deadline=deadline) is None  # 1 s wait, 0.5 s left


def test_deadline_counts_down_and_bounds_timeouts():
    clock = FakeClock()
    deadline = Deadline(5.0, clock=clock)
    assert (deadline.remaining_s(), deadline.expired(), deadline.bound(60.0), deadline.bound(2.0)) == (
        5.0,
        False,
        5.0,
        2.0,
    )
    clock.now += 6
    assert (deadline.remaining_s(), deadline.expired()) == (0.0, True)
    assert 0 < deadline.bound(60.0) <= 0.001  # a socket timeout of 0 would mean non-blocking


def test_an_infinite_deadline_never_expires():
    deadline = Deadline(math.inf)
    assert not deadline.expired()
    assert deadline.bound(30.0) == 30.0

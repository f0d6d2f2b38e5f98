"""The collector's small parts on their own: Retry-After, backoff, rewindable sinks, settings."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime

import pytest

from replica_ledger.collector.errors import SettingsError
from replica_ledger.collector.retry import parse_retry_after_s, retry_delay_s
from replica_ledger.collector.settings import CollectorSettings
from replica_ledger.collector.snapshot_file import GzipSink, PlainSink

NOW = datetime(2026, 10, 12, 0, 4, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": " 0.5 "}, 0.5),
        ({"Retry-After": "Mon, 12 Oct 2026 00:04:41 GMT"}, 10.0),
        ({"Retry-After": "Mon, 12 Oct 2026 00:00:00 GMT"}, 0.0),  # already past
        ({"Retry-After": "soon"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(headers, expected):
    assert parse_retry_after_s(headers, now=NOW) == expected


def test_backoff_never_undercuts_retry_after_but_clips_absurd_values():
    settings = CollectorSettings(backoff_base_s=0.01, backoff_cap_s=0.05, max_retry_after_s=30)
    assert retry_delay_s(1, settings, {"Retry-After": "2"}) == 2.0
    assert retry_delay_s(1, settings, {"Retry-After": "86400"}) == 30.0


def test_backoff_doubles_up_to_the_cap_with_jitter_in_its_upper_half():
    settings = CollectorSettings(backoff_base_s=1.0, backoff_cap_s=8.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [retry_delay_s(attempt, settings) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)


@pytest.mark.parametrize("sink_type", [PlainSink, GzipSink])
def test_a_sink_rewinds_to_a_mark_any_number_of_times(sink_type):
    buffer = io.BytesIO()
    sink = sink_type(buffer)
    sink.write(b"kept " * 1000)
    mark = sink.mark()
    for attempt in range(3):
        sink.write(f"discarded {attempt} ".encode() * 5000)
        sink.rewind(mark)
    sink.write(b"and the end")
    sink.finish()
    written = buffer.getvalue()
    content = gzip.decompress(written) if sink_type is GzipSink else written
    assert content == b"kept " * 1000 + b"and the end"


def test_settings_defaults_and_overrides():
    assert CollectorSettings.from_env({}) == CollectorSettings()
    settings = CollectorSettings.from_env(
        {
            "REPLICA_LEDGER_COLLECTOR_PAGE_SIZE": "250",
            "REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT": "2.5",
            "REPLICA_LEDGER_COLLECTOR_MAX_RETRIES": "0",
            "REPLICA_LEDGER_COLLECTOR_GZIP": "true",
        }
    )
    assert (settings.page_size, settings.read_timeout_s, settings.max_retries, settings.gzip_local) == (
        250,
        2.5,
        0,
        True,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAGE_SIZE", "0"),
        ("READ_TIMEOUT", "0"),
        ("MAX_RETRIES", "-1"),
        ("GZIP", "maybe"),
        ("BACKOFF_CAP", "x"),
    ],
)
def test_unusable_settings_are_refused(name, value):
    with pytest.raises(SettingsError, match=f"REPLICA_LEDGER_COLLECTOR_{name}"):
        CollectorSettings.from_env({f"REPLICA_LEDGER_COLLECTOR_{name}": value})

"""The collector's small parts on their own: rewindable sinks, settings (Retry-After and backoff:
tests/replica_ledger/test_http_retry.py)."""

from __future__ import annotations

import gzip
import io

import pytest

from replica_ledger.collector.errors import SettingsError
from replica_ledger.collector.settings import CollectorSettings
from replica_ledger.collector.snapshot_file import GzipSink, PlainSink
from replica_ledger.http_retry import BackoffSchedule


def test_the_backoff_schedule_follows_the_settings():
    settings = CollectorSettings(backoff_base_s=0.5, backoff_cap_s=8.0, max_retry_after_s=30)
    assert settings.backoff_schedule() == BackoffSchedule(base_s=0.5, cap_s=8.0, jitter=True, max_retry_after_s=30)


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
            "REPLICA_LEDGER_COLLECTOR_DEADLINE_SECONDS": "90",
        }
    )
    assert (
        settings.page_size,
        settings.read_timeout_s,
        settings.max_retries,
        settings.gzip_local,
        settings.deadline_s,
    ) == (250, 2.5, 0, True, 90.0)
    assert (CollectorSettings().deadline_s, CollectorSettings().read_timeout_s) == (300.0, 30.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAGE_SIZE", "0"),
        ("READ_TIMEOUT", "0"),
        ("MAX_RETRIES", "-1"),
        ("GZIP", "maybe"),
        ("BACKOFF_CAP", "x"),
        ("DEADLINE_SECONDS", "0"),
        ("MAX_TIMEOUTS", "0"),
        ("DEADLINE_SECONDS", "soon"),
    ],
)
def test_unusable_settings_are_refused(name, value):
    with pytest.raises(SettingsError, match=f"REPLICA_LEDGER_COLLECTOR_{name}"):
        CollectorSettings.from_env({f"REPLICA_LEDGER_COLLECTOR_{name}": value})


def test_the_collector_modules_import_each_other_without_a_circle():
    """Imports anywhere in a module count (also those inside functions, as destination.py's of gcs.py)."""
    import ast
    from graphlib import CycleError, TopologicalSorter
    from pathlib import Path

    import replica_ledger.collector

    package = Path(replica_ledger.collector.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        graph[path.stem] = {
            name.removeprefix("replica_ledger.collector.")
            for name in imported
            if name.startswith("replica_ledger.collector.")
        }
    assert "destination" not in graph["gcs"]
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import circle: {exc.args[1]}")

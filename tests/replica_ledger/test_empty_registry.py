"""A first run against an empty change log refuses, unless an empty registry is intended
(REPLICA_LEDGER_ALLOW_EMPTY_REGISTRY=true): loaded, it would make every API unregistered."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from replica_ledger import changelog, pipeline
from replica_ledger.settings import load_settings
from replica_ledger.warehouse import duckdb as warehouse
from tests.replica_ledger.test_bad_inputs import CLUSTER, DAYS, GOOD_CHANGES, good_items, month_settings
from tooling.k8s_objects import kubectl_list


@pytest.fixture
def settings(tmp_path):
    settings = month_settings(tmp_path)
    folder = settings.archive_dir / f"dt={DAYS[0].isoformat()}"
    folder.mkdir(parents=True)
    (folder / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(good_items())))
    return settings


def raw_rows(settings) -> dict[str, int]:
    if not settings.duckdb_path.exists():
        return {}
    with warehouse.connect(settings.duckdb_path) as con:
        return {
            table: con.execute(f"select count(*) from raw.{table}").fetchone()[0]
            for table in ("k8s_deployments", "snapshot_manifest", "ped_limit_changes", "day_loads")
        }


@pytest.mark.parametrize(
    ("content", "what"),
    [
        ("", "is empty"),  # the example
        ("\n\n   \n", "is empty"),  # blank lines only
        ("{truncated\n[1, 2]\n", "has no readable row (2 unreadable)"),  # nothing but unreadable rows
        (b"\xef\xbb\xbf", "is empty"),  # a byte order mark alone
    ],
)
def test_a_first_run_against_an_empty_change_log_refuses_and_loads_nothing(settings, content, what):
    if isinstance(content, bytes):
        settings.ped_changes.write_bytes(content)
    else:
        settings.ped_changes.write_text(content)
    with pytest.raises(changelog.EmptyRegistry) as refused:
        pipeline.load_day(settings, DAYS[0])
    message = str(refused.value)
    assert message.startswith(f"{settings.ped_changes} {what}: loading it would judge every Deployment unregistered")
    assert "REPLICA_LEDGER_ALLOW_EMPTY_REGISTRY=true" in message
    assert not any(raw_rows(settings).values())  # nothing was loaded or replaced


def test_an_intended_empty_registry_loads(settings):
    settings.ped_changes.write_text("")
    summary = pipeline.load_day(replace(settings, allow_empty_registry=True), DAYS[0])
    assert summary["rows"]["ped_limit_changes"] == 0
    assert raw_rows(settings)["k8s_deployments"] == 3  # 3 Deployments and an HPA


def test_the_setting_is_read_from_the_environment():
    assert load_settings({}).allow_empty_registry is False
    assert load_settings({"REPLICA_LEDGER_ALLOW_EMPTY_REGISTRY": "true"}).allow_empty_registry is True


def test_a_change_log_with_one_readable_row_loads(settings):
    settings.ped_changes.write_text("{truncated\n" + json.dumps(GOOD_CHANGES[0]) + "\n")
    summary = pipeline.load_day(settings, DAYS[0])
    assert summary["rows"]["ped_limit_changes"] == 2 and summary["unparseable_change_rows"] == 1


def test_a_missing_change_log_is_still_an_error_not_an_empty_one(settings):
    with pytest.raises(FileNotFoundError):
        pipeline.load_day(replace(settings, allow_empty_registry=True), DAYS[0])

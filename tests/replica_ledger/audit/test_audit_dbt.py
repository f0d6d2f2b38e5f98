"""The audit models on a real DuckDB build: the loader, then dbt (with its unit tests) for
stg_audit__workload_writes, stg_audit__rejects and fct_limit_edits; and the same build with
no audit source, where the models are built and empty."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from replica_ledger import pipeline
from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.settings import Settings
from replica_ledger.warehouse import duckdb as warehouse
from tooling import audit_entries as make
from tooling.k8s_objects import deployment_object, hpa_object, kubectl_list

CLUSTER = "gke-eu"
# The snapshot of day D is taken at D+1 00:00: day 2 is what the edits of day 3 start from.
DAYS = (date(2026, 10, 2), date(2026, 10, 3), date(2026, 10, 4))
PERSON = "dev@example.com"
CI_SA = "ci-deployer@example-prod.iam.gserviceaccount.com"
SELECT = ["+fct_limit_edits", "+stg_audit__rejects", "+int_breach_conditions"]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def hpa_write(insert_id: str, when: datetime, max_replicas: int, *, principal=PERSON, agent=make.KUBECTL_AGENT, **kw):
    return make.log_entry(
        insert_id=insert_id,
        at=when,
        cluster=CLUSTER,
        resource="horizontalpodautoscalers",
        verb=kw.pop("verb", "patch"),
        namespace=kw.pop("namespace", "shop"),
        name="api",
        principal=principal,
        user_agent=agent,
        request={"spec": {"maxReplicas": max_replicas}},
        response=make.hpa_object("shop", "api", max_replicas),
        **kw,
    )


def controller_scale(insert_id: str, when: datetime, replicas: int) -> dict:
    scale = make.scale_object("shop", "api", replicas)
    return make.log_entry(
        insert_id=insert_id,
        at=when,
        cluster=CLUSTER,
        resource="deployments",
        verb="update",
        subresource="scale",
        namespace="shop",
        name="api",
        principal=make.HPA_CONTROLLER,
        user_agent=make.HPA_CONTROLLER_AGENT,
        request=scale,
        response=scale,
    )


def audit_lines() -> list[dict]:
    metadata_only = hpa_write("m1", at(DAYS[2], 8), 5)
    del metadata_only["protoPayload"]["request"], metadata_only["protoPayload"]["response"]
    return [
        hpa_write("a1", at(DAYS[1], 9), 8),  # the person raises the max above the approved 4 ...
        controller_scale("a2", at(DAYS[1], 9, 5), 7),  # ... the HPA scales into it ...
        hpa_write("a3", at(DAYS[1], 9, 30), 4),  # ... and the person reverts it
        hpa_write("k1", at(DAYS[1], 10), 9, namespace="kube-system"),
        hpa_write("c1", at(DAYS[2], 12), 6, principal=CI_SA, agent=make.CI_AGENT, verb="update"),
        metadata_only,
    ]


def write_inputs(root: Path, *, with_audit: bool) -> Settings:
    for day in DAYS:
        folder = root / "archive" / f"dt={day.isoformat()}"
        folder.mkdir(parents=True)
        items = [
            deployment_object("shop", "api", replicas=3, cpu=2, memory_gb=4),
            hpa_object("shop", "api", target="api", min_replicas=2, max_replicas=6 if day == DAYS[2] else 4, current=3),
        ]
        (folder / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(items)))
    changes = [
        {"change_id": "p1", "namespace": "shop", "deployment": "api", "max_replicas": 4, "cpu": 2, "memory_gb": 4,
         "changed_at": "2026-10-01T00:00:00Z", "action": "upsert"},
        {"change_id": "p2", "namespace": "shop", "deployment": "api", "max_replicas": 6, "cpu": 2, "memory_gb": 4,
         "changed_at": "2026-10-04T10:00:00Z", "action": "upsert"},
    ]  # fmt: skip
    (root / "ped.jsonl").write_text("".join(json.dumps(row) + "\n" for row in changes))
    audit = root / "audit.jsonl"
    audit.write_text("".join(json.dumps(line) + "\n" for line in audit_lines()))
    return replace(
        Settings(),
        archive_dir=root / "archive",
        ped_changes=root / "ped.jsonl",
        duckdb_path=root / "warehouse.duckdb",
        clusters=(CLUSTER,),
        audit_log=audit if with_audit else None,
    )


def build(root: Path, *, with_audit: bool) -> Settings:
    settings = write_inputs(root, with_audit=with_audit)
    for day in DAYS:
        pipeline.load_day(settings, day)
    target = root / "dbt_target"
    run_dbt(settings, ["build", "--select", *SELECT, "--target-path", str(target), "--vars", build_vars(settings)])
    return settings


def query(settings: Settings, sql: str) -> list[tuple]:
    with warehouse.connect(settings.duckdb_path) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Settings:
    return build(tmp_path_factory.mktemp("audit"), with_audit=True)


def test_limit_edits_are_the_person_and_the_pipeline_with_the_value_before(built):
    rows = query(
        built,
        "select audit_id, changed_at, deployment, field, from_value, to_value, principal, tool, "
        "approved_max_replicas from main.fct_limit_edits order by changed_at",
    )
    assert rows == [
        ("a1", datetime(2026, 10, 3, 9), "api", "max_replicas", 4, 8, PERSON, "kubectl", 4),
        ("a3", datetime(2026, 10, 3, 9, 30), "api", "max_replicas", 8, 4, PERSON, "kubectl", 4),
        ("c1", datetime(2026, 10, 4, 12), "api", "max_replicas", 4, 6, CI_SA, "ci", 6),
    ]
    assert query(built, "select distinct object_kind from main.fct_limit_edits") == [("HorizontalPodAutoscaler",)]


def test_the_controller_write_is_staged_but_no_edit(built):
    rows = query(built, "select audit_id, tool, is_controller from main.stg_audit__workload_writes order by audit_id")
    assert rows == [("a1", "kubectl", False), ("a2", "controller", True), ("a3", "kubectl", False), ("c1", "ci", False)]


def test_the_metadata_only_entry_is_a_reject_with_its_reason(built):
    assert query(built, "select snapshot_date, principal, reason from main.stg_audit__rejects") == [
        (
            DAYS[2],
            PERSON,
            "a change of unknown size by dev@example.com at 2026-10-04 08:00:00Z (no request or response body)",
        )
    ]


EDITS_SQL = "select * from main.fct_limit_edits order by audit_id"


def test_day_by_day_runs_store_the_edits_of_a_full_build(built, tmp_path):
    """Each day loaded and built alone with no lookback (the window is the run's day, as in
    a backfill): day 3's edits start from day 2's snapshot and the controller's write of
    day 3, and the CI edit of day 4 from day 3's snapshot, read from before the window."""
    settings = write_inputs(tmp_path, with_audit=True)
    for day in DAYS:
        pipeline.load_day(settings, day, lookback_days=0)
        pipeline.build_day(settings, day, lookback_days=0)
    daily = query(settings, EDITS_SQL)
    assert len(daily) == 3
    assert daily == query(built, EDITS_SQL)


def test_a_table_built_before_the_partition_column_is_built_again_whole(tmp_path):
    """fct_limit_edits was a plain table without snapshot_date: the next daily run drops it
    and builds every edit again, not only its window's."""
    settings = build(tmp_path, with_audit=True)
    expected = query(settings, EDITS_SQL)
    with warehouse.connect(settings.duckdb_path) as con:
        con.execute(
            "create or replace table main.fct_limit_edits as select * exclude (snapshot_date) from main.fct_limit_edits"
        )
    pipeline.build_day(settings, DAYS[2], lookback_days=0)
    assert query(settings, EDITS_SQL) == expected
    assert {row[0] for row in expected} == {"a1", "a3", "c1"}  # a1 and a3 (Oct 3) lie before the window


INTRADAY_SQL = (
    "select snapshot_date, deployment, breach_type, observed_value, approved_max_replicas"
    " from {schema}.int_breach_conditions order by snapshot_date, breach_type"
)
# Day 3: the person's 8 and the controller's 7 between snapshots that both show max 4.
INTRADAY_ROWS = [(DAYS[1], "api", "intraday_over_limit", 8, 4)]


def test_a_raise_and_revert_between_snapshots_is_an_intraday_breach(built):
    assert query(built, INTRADAY_SQL.format(schema="main")) == INTRADAY_ROWS
    peaks = query(
        built,
        "select snapshot_date, snapshot_hpa_max_replicas, peak_hpa_max_replicas, peak_desired_replicas,"
        " over_limit_writes from main.int_deployments__intraday_peaks order by snapshot_date",
    )
    assert peaks == [(DAYS[0], 4, 4, 3, 0), (DAYS[1], 4, 8, 7, 2), (DAYS[2], 6, 6, 3, 0)]


def test_without_an_audit_source_the_models_build_empty(tmp_path):
    settings = build(tmp_path, with_audit=False)
    assert query(settings, "select count(*) from main.fct_limit_edits") == [(0,)]
    assert query(settings, "select count(*) from main.stg_audit__rejects") == [(0,)]
    assert query(settings, INTRADAY_SQL.format(schema="main")) == []

"""The catalogue of bad inputs: each is quarantined or rejected with its reason, the good
rows around it still load, and no bill and no breach moves.

One small month (October 2026, two snapshot days of one cluster) is built twice with the real
loader and a real dbt build on DuckDB: once clean, once with every bad input added (bad PED
rows, a byte order mark, bad Deployments, rejected meta files). The billing mart, the daily
facts and the breaches must be the same; the bad inputs must be in the quarantine or the
rejects with their reasons. The change-log guard and the collector's date window stop a run
instead, and are checked on their own below.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from replica_ledger import pipeline
from replica_ledger.collector.__main__ import main as collector_main
from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.settings import Settings
from replica_ledger.warehouse import duckdb as warehouse
from tooling.k8s_objects import deployment_object, hpa_object, kubectl_list

DAYS = (date(2026, 10, 30), date(2026, 10, 31))
CLUSTER = "gke-eu"
BOM = "\ufeff"


def change(change_id: str, namespace: str, deployment: str, **fields) -> dict:
    row = {
        "change_id": change_id,
        "namespace": namespace,
        "deployment": deployment,
        "min_replicas": 2,
        "max_replicas": 4,
        "cpu": 2,
        "memory_gb": 4,
        "changed_at": "2026-09-01T00:00:00Z",
        "action": "upsert",
    }
    row.update(fields)
    return row


GOOD_CHANGES = [
    change("g1", "shop", "api"),  # 2 vCPU, 4 GB, max 4 -> 294
    change("g2", "pay", "checkout", max_replicas=6, cpu=1, memory_gb=2),
    change("g3", "shop", "web.v2", cpu=0.5, memory_gb=1.5),
]


def _late(change_id: str, **fields) -> str:
    """A bad row for shop/api that, if used, would raise its October bill (changed mid-month)."""
    return json.dumps(change(change_id, "shop", "api", changed_at="2026-10-15T00:00:00Z", **fields))


def _line(change_id: str, field: str, literal: str) -> str:
    """A row whose `field` is written as the raw JSON text `literal` (NaN, Infinity, 1e999)."""
    row = json.loads(_late(change_id))
    row[field] = "__LITERAL__"
    return json.dumps(row).replace('"__LITERAL__"', literal)


# (line, quarantine_reason): every bad change row of the contract, each on its own.
BAD_CHANGE_ROWS = [
    (_late("b-max-half", max_replicas=4.5), "invalid_max_replicas"),
    (_late("b-max-text", max_replicas="6"), "invalid_max_replicas"),
    (_late("b-max-bool", max_replicas=True), "invalid_max_replicas"),
    (_late("b-min-text", min_replicas="2"), "invalid_min_replicas"),
    (_line("b-cpu-nan", "cpu", "NaN"), "invalid_cpu"),
    (_line("b-cpu-inf", "cpu", "Infinity"), "invalid_cpu"),
    (_line("b-cpu-neg-inf", "cpu", "-Infinity"), "invalid_cpu"),
    (_line("b-cpu-overflow", "cpu", "1e999"), "invalid_cpu"),
    (_late("b-cpu-huge", cpu=1e308), "invalid_cpu"),
    (_late("b-cpu-text", cpu="2"), "invalid_cpu"),
    (_late("b-cpu-bool", cpu=True), "invalid_cpu"),
    (_late("b-cpu-zero", cpu=0), "invalid_cpu"),
    (_line("b-mem-nan", "memory_gb", "NaN"), "invalid_memory_gb"),
    (_late("b-mem-negative", memory_gb=-4), "invalid_memory_gb"),
    (_late("b-max-range", max_replicas=9), "max_replicas_out_of_range"),
    (json.dumps(change("b-ns-case", "Shop", "api")), "invalid_namespace"),
    (json.dumps(change("b-ns-long", "n" * 64, "api")), "invalid_namespace"),
    (json.dumps(change("b-name-underscore", "shop", "api_v2")), "invalid_deployment"),
    (json.dumps(change("b-name-long", "shop", "a" * 254)), "invalid_deployment"),
    (json.dumps(change("g1", "shop", "api", cpu=3)), "conflicting_duplicate_change_id"),
    ("{truncated", "malformed_json"),
]
# Not bad: the same change re-sent with cpu 2.0 and memory 4.0 is the same content (a no-op).
SAME_VALUE_RESEND = json.dumps(change("g1", "shop", "api", cpu=2.0, memory_gb=4.0))


def good_items() -> list[dict]:
    return [
        deployment_object("shop", "api", replicas=3, cpu=2, memory_gb=4),
        hpa_object("shop", "api", target="api", min_replicas=2, max_replicas=4, current=3),
        deployment_object("pay", "checkout", replicas=5, cpu=1, memory_gb=2),
        deployment_object("shop", "web.v2", replicas=2, cpu=1, memory_gb=2),
    ]


def bad_items() -> list[tuple[dict, str]]:
    """Deployments the snapshot must reject, with the start of the reason."""
    no_replicas = deployment_object("shop", "no-replicas", replicas=3, cpu=1, memory_gb=1)
    del no_replicas["spec"]["replicas"]
    # status.replicas 4 above a desired -3: read as -3 it would look like a rollout.
    negative = deployment_object("shop", "negative", replicas=4, cpu=1, memory_gb=1)
    negative["spec"]["replicas"] = -3
    return [
        (no_replicas, "missing spec.replicas"),
        (negative, "negative spec.replicas: -3"),
        (deployment_object("Shop_NS", "api", replicas=9, cpu=1, memory_gb=1), "metadata.namespace 'Shop_NS'"),
        (deployment_object("n" * 64, "api", replicas=9, cpu=1, memory_gb=1), "metadata.namespace"),
        (deployment_object("shop", "API", replicas=9, cpu=1, memory_gb=1), "metadata.name 'API'"),
        (deployment_object("shop", "a" * 254, replicas=9, cpu=1, memory_gb=1), "metadata.name"),
    ]


# Meta files the loader must reject, per day: (meta content, start of the reason).
BAD_META = {
    DAYS[0]: ({"cluster": "gke-us", "captured_at": "2026-10-31T00:04:00Z"}, "cluster 'gke-us' is not 'gke-eu'"),
    DAYS[1]: ({"cluster": CLUSTER, "captured_at": "2099-01-01T00:00:00Z"}, "captured_at 2099-01-01T00:00:00Z"),
}


def write_archive(root: Path, *, bad: bool) -> None:
    for day in DAYS:
        folder = root / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        items = good_items() + ([item for item, _ in bad_items()] if bad else [])
        (folder / f"{CLUSTER}.json").write_text(json.dumps(kubectl_list(items)))
        if bad:
            (folder / f"{CLUSTER}.meta.json").write_text(json.dumps(BAD_META[day][0]))


def write_change_log(path: Path, *, bad: bool) -> None:
    lines = [json.dumps(row) for row in GOOD_CHANGES]
    if bad:
        lines += [line for line, _ in BAD_CHANGE_ROWS] + [SAME_VALUE_RESEND]
    text = "\n".join(lines) + "\n"
    path.write_text((BOM + text) if bad else text, encoding="utf-8")


def month_settings(root: Path) -> Settings:
    return replace(
        Settings(),
        archive_dir=root / "archive",
        ped_changes=root / "ped.jsonl",
        duckdb_path=root / "warehouse.duckdb",
        clusters=(CLUSTER,),
    )


def query(settings: Settings, sql: str) -> list[dict]:
    # Not read-only: dbt (in this process) may still hold the file open read-write.
    with warehouse.connect(settings.duckdb_path) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def without_run_times(rows: list[dict]) -> list[dict]:
    """Drop the columns that record when a run happened (closed_at...): they differ by run."""
    return [
        {key: value for key, value in row.items() if not key.endswith("_at") or key == "captured_at"} for row in rows
    ]


def build_month(root: Path, *, bad: bool) -> Settings:
    settings = month_settings(root)
    write_archive(settings.archive_dir, bad=bad)
    write_change_log(settings.ped_changes, bad=bad)
    for day in DAYS:
        pipeline.load_day(settings, day)
    run_dbt(settings, ["build", "--exclude-resource-type", "unit_test", "--vars", build_vars(settings)])
    return settings


@pytest.fixture(scope="module")
def months(tmp_path_factory) -> tuple[Settings, Settings]:
    """(clean, with every bad input): both built by the real loader and dbt (full build)."""
    target = tmp_path_factory.mktemp("dbt-target")
    with pytest.MonkeyPatch.context() as patch:
        # Our own dbt target folder: other dbt runs on this machine keep theirs.
        patch.setenv("DBT_TARGET_PATH", str(target / "target"))
        patch.setenv("DBT_LOG_PATH", str(target / "logs"))
        clean = build_month(tmp_path_factory.mktemp("clean"), bad=False)
        dirty = build_month(tmp_path_factory.mktemp("bad"), bad=True)
    return clean, dirty


BILLING = "select * from mart_monthly_billing order by billing_month, namespace, deployment"


def test_clean_month_bills_the_contract_amounts(months):
    clean, _ = months
    amounts = {(row["namespace"], row["deployment"]): row["amount"] for row in query(clean, BILLING)}
    assert {key: float(value) for key, value in amounts.items()} == {
        ("pay", "checkout"): 180 + (19 * 1 + 19 * 2) * 6 / 4,  # 265.50
        ("shop", "api"): 294.0,
        ("shop", "web.v2"): 180 + (19 * 0.5 + 19 * 1.5) * 4 / 4,  # 218.00
    }


def test_no_bill_moves(months):
    clean, dirty = months
    assert without_run_times(query(dirty, BILLING)) == without_run_times(query(clean, BILLING))


def test_no_breach_and_no_daily_fact_moves(months):
    clean, dirty = months
    for sql in (
        "select * from fct_replica_breaches order by all",
        "select * from fct_deployment_daily order by all",
        "select * from dim_replica_limits order by all",
    ):
        assert without_run_times(query(dirty, sql)) == without_run_times(query(clean, sql)), sql


def test_every_bad_change_row_is_quarantined_with_its_reason(months):
    _, dirty = months
    rows = query(dirty, "select * from int_limit_changes__validated order by arrival_seq")
    # The BOM line (arrival 1) is read like the others; good rows and the same-value re-send are used.
    statuses = [(row["change_id"], row["validation_status"], row["quarantine_reason"]) for row in rows]
    expected_good = [("g1", "accepted", None), ("g2", "accepted", None), ("g3", "accepted", None)]
    expected_bad = [
        (json.loads(line)["change_id"] if line.startswith('{"') else None, "quarantined", reason)
        for line, reason in BAD_CHANGE_ROWS
    ]
    assert statuses == [*expected_good, *expected_bad, ("g1", "duplicate_noop", None)]
    quarantine = query(dirty, "select quarantine_reason, quarantine_detail from fct_limit_change_quarantine")
    assert len(quarantine) == len(BAD_CHANGE_ROWS)
    assert all(row["quarantine_detail"] for row in quarantine)
    details = {row["quarantine_detail"] for row in quarantine}
    assert "max_replicas 4.5 is not a JSON integer" in details
    assert 'max_replicas "6" is not a JSON integer' in details
    assert any(detail.startswith("cpu NaN is not a finite JSON number") for detail in details)
    assert any(detail.startswith("cpu 1e+308 is not a finite JSON number") for detail in details)


def test_the_run_summary_counts_the_quarantine(months):
    _, dirty = months
    summary = pipeline.run_summary(dirty, DAYS[-1])
    assert summary["quarantined_change_rows"] == len(BAD_CHANGE_ROWS)


def test_every_bad_object_is_rejected_with_its_reason(months):
    _, dirty = months
    rejects = query(dirty, f"select reason from raw.k8s_rejects where snapshot_date = '{DAYS[0]}' order by item_index")
    expected = [reason for _, reason in bad_items()]
    assert len(rejects) == len(expected)
    for row, reason in zip(rejects, expected, strict=True):
        assert row["reason"].startswith(reason), (row["reason"], reason)


def test_rejected_meta_files_are_recorded_and_the_day_is_judged_at_its_end(months):
    _, dirty = months
    manifest = query(dirty, "select * from raw.snapshot_manifest order by snapshot_date")
    for row in manifest:
        day = row["snapshot_date"]
        assert row["status"] == "loaded"
        assert row["captured_at"] == datetime(day.year, day.month, day.day) + timedelta(days=1)
        assert f"{CLUSTER}.meta.json rejected: {BAD_META[day][1]}" in row["error"]


# --------------------------------------------------------------------------- the change-log guard


@pytest.fixture
def loaded(tmp_path) -> Settings:
    settings = month_settings(tmp_path)
    write_archive(settings.archive_dir, bad=False)
    write_change_log(settings.ped_changes, bad=False)
    pipeline.load_day(settings, DAYS[0])
    return settings


def held_changes(settings: Settings) -> list[tuple]:
    with warehouse.connect(settings.duckdb_path) as con:
        return con.execute("select * from raw.ped_limit_changes order by arrival_seq").fetchall()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "has 0 rows but the warehouse already holds 3"),
        (json.dumps(GOOD_CHANGES[0]) + "\n", "has 1 rows but the warehouse already holds 3"),
        (
            "\n".join(json.dumps(row) for row in [GOOD_CHANGES[0], {**GOOD_CHANGES[1], "max_replicas": 8}])
            + "\n"
            + json.dumps(GOOD_CHANGES[2])
            + "\n",
            "row 2 of 3 differs from the row 2 of 3",
        ),
    ],
    ids=["empty", "truncated", "rewritten"],
)
def test_a_shrunk_or_rewritten_change_log_fails_the_load_and_changes_nothing(loaded, content, message):
    before = held_changes(loaded)
    days_before = query(loaded, "select * from raw.snapshot_manifest")
    loaded.ped_changes.write_text(content)
    with pytest.raises(warehouse.ChangeLogShrank, match=message) as failure:
        pipeline.load_day(loaded, DAYS[1])
    assert str(loaded.ped_changes) in str(failure.value)
    assert held_changes(loaded) == before
    # The day's raw rows were not replaced either: the check runs before anything is written.
    assert query(loaded, "select * from raw.snapshot_manifest") == days_before


def test_an_appended_change_log_and_a_bom_still_load(loaded):
    text = BOM + loaded.ped_changes.read_text() + json.dumps(change("g4", "shop", "new-api")) + "\n"
    loaded.ped_changes.write_text(text, encoding="utf-8")
    summary = pipeline.load_day(loaded, DAYS[1])
    assert summary["rows"]["ped_limit_changes"] == 4 and summary["unparseable_change_rows"] == 0


# --------------------------------------------------------------------------- the collector's --date


@pytest.mark.parametrize(
    ("days_back", "message"),
    [(0, "that day has not ended yet"), (-1, "that day has not ended yet"), (2, "too far back"), (40, "too far back")],
)
def test_the_collector_refuses_a_date_outside_its_capture_window(tmp_path, capsys, days_back, message, clock):
    day = clock.today() - timedelta(days=days_back)
    argv = ["--cluster", "gke-eu", "--output", str(tmp_path / "out"), "--kubeconfig", str(tmp_path / "none.yaml")]
    assert collector_main([*argv, "--date", day.isoformat()]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was read or written

"""The demo month with its audit log (demo/audit_log.jsonl), loaded and built for real on
DuckDB: the edits people and pipelines made, the report's "who" for every episode, the
catalog raise-and-revert only the audit log shows (intraday_over_limit), and the bill's
observed max from the intra-day peaks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from replica_ledger import pipeline
from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.report import render_report
from replica_ledger.settings import REPO_ROOT, Settings
from replica_ledger.warehouse import duckdb as warehouse
from tooling.demo_data import DAYS_IN_DEMO_MONTH, DEMO_MONTH

DEMO = REPO_ROOT / "demo"


@pytest.fixture(scope="module")
def demo_month(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("audit-demo")
    settings = replace(
        Settings(),
        archive_dir=DEMO / "archive",
        ped_changes=DEMO / "ped_limit_changes.jsonl",
        audit_log=DEMO / "audit_log.jsonl",
        duckdb_path=root / "warehouse.duckdb",
    )
    for offset in range(DAYS_IN_DEMO_MONTH):
        pipeline.load_day(settings, DEMO_MONTH + timedelta(days=offset))
    command = ["build", "--exclude-resource-type", "unit_test", "--target-path", str(root / "target")]
    run_dbt(settings, [*command, "--vars", build_vars(settings)])
    return settings


def query(settings: Settings, sql: str) -> list[tuple]:
    with warehouse.connect(settings.duckdb_path) as con:
        return con.execute(sql).fetchall()


def test_the_demo_edits_are_the_people_with_the_value_before_and_the_approved_max(demo_month):
    rows = query(
        demo_month,
        "select changed_at, deployment, from_value, to_value, split_part(principal, '@', 1), tool, "
        "approved_max_replicas from main.fct_limit_edits order by changed_at",
    )
    assert rows == [
        (datetime(2026, 10, 8, 13, 5), "catalog-api", 4, 7, "lee.chen", "kubectl", 4),  # raised and reverted ...
        (datetime(2026, 10, 8, 13, 50), "catalog-api", 7, 4, "lee.chen", "kubectl", 4),  # ... within the hour
        (datetime(2026, 10, 10, 15, 20), "payments-api", 3, 6, "ana.lopez", "kubectl", 3),  # a day before PED
        (datetime(2026, 10, 14, 10, 12), "orders-api", 4, 8, "sam.ortiz", "kubectl", 4),
        (datetime(2026, 10, 27, 16, 40), "orders-api", 8, 4, "sam.ortiz", "kubectl", 4),
    ]


def test_ci_redeploys_and_controller_writes_are_audited_but_no_edits(demo_month):
    rows = query(
        demo_month,
        "select tool, count(*) from main.stg_audit__workload_writes group by tool order by tool",
    )
    assert rows == [("ci", 5), ("controller", 6), ("kubectl", 5)]


def test_the_metadata_only_entry_is_quarantined(demo_month):
    assert query(demo_month, "select snapshot_date, cluster, reason from main.stg_audit__rejects") == [
        (
            date(2026, 10, 9),
            "gke-demo-us",
            "a change of unknown size by ops-oncall@demo.example at 2026-10-09 11:30:00Z (no request or response body)",
        )
    ]


def test_the_report_says_who_crossed_the_limit_of_every_episode(demo_month):
    report = render_report(demo_month)
    section = report.split("Who crossed the limit (every episode, from the audit log) (5)\n", 1)[1].split("\n\n", 1)[0]
    lines = [line.split() for line in section.splitlines()[2:]]
    assert lines == [
        ["gke-demo-eu", "catalog/catalog-api", "intraday_over_limit", "2026-10-08", "lee.chen@demo.example",
         "kubectl", "2026-10-08", "13:05", "HPA", "max", "4", "->", "7", "4"],
        ["gke-demo-eu", "payments/payments-api", "hpa_max_over_limit", "2026-10-10", "ana.lopez@demo.example",
         "kubectl", "2026-10-10", "15:20", "HPA", "max", "3", "->", "6", "3"],
        ["gke-demo-eu", "orders/orders-api", "hpa_max_over_limit", "2026-10-14", "sam.ortiz@demo.example",
         "kubectl", "2026-10-14", "10:12", "HPA", "max", "4", "->", "8", "4"],
        ["gke-demo-eu", "orders/orders-api", "replicas_over_limit", "2026-10-16", "sam.ortiz@demo.example",
         "kubectl", "2026-10-14", "10:12", "HPA", "max", "4", "->", "8", "4"],
        ["gke-demo-eu", "sandbox/shadow-api", "unregistered_deployment", "2026-10-20", "(no", "limit", "to", "cross)"],
    ]  # fmt: skip


def test_the_raise_and_revert_on_catalog_is_one_intraday_episode_the_snapshots_miss(demo_month):
    episodes = query(
        demo_month,
        "select deployment, breach_type, started_on, ended_on, max_observed_value, last_approved_max_replicas"
        " from main.fct_breach_episodes where breach_type = 'intraday_over_limit'",
    )
    assert episodes == [("catalog-api", "intraday_over_limit", date(2026, 10, 8), date(2026, 10, 9), 7, 4)]
    snapshot = query(
        demo_month,
        "select hpa_max_replicas, spec_replicas from main.fct_deployment_daily"
        " where snapshot_date = '2026-10-08' and deployment = 'catalog-api'",
    )
    assert snapshot == [(4, 4)]  # the snapshot alone shows nothing
    peaks = query(
        demo_month,
        "select peak_hpa_max_replicas, peak_desired_replicas from main.int_deployments__intraday_peaks"
        " where snapshot_date = '2026-10-08' and deployment = 'catalog-api'",
    )
    assert peaks == [(7, 6)]  # Lee's raise to 7, and the controller's scale to 6 into it


def test_the_bill_shows_the_intraday_peak_as_observed_max(demo_month):
    rows = query(
        demo_month,
        "select deployment, billed_max_replicas, observed_max_replicas, unapproved_exposure_amount"
        " from main.mart_monthly_billing where deployment = 'catalog-api'",
    )
    # 1 vCPU, 2 GB: (19 + 38) x (7 - 4) / 4 = 42.75 more than the approved max 4.
    assert rows == [("catalog-api", 4, 7, Decimal("42.75"))]


# --------------------------------------------------------------------------- generated policies
# The same warehouse, read by the policy step (policies.generate) and judged by the admission
# harness on a real CEL runtime (tests/replica_ledger/policies/admission.py).

POLICIES_APPLIED_FROM = datetime(2026, 10, 9)  # tooling/demo_audit.py: Warn and Audit from day 9


def _judge(settings: Settings, requests_at: list[tuple[datetime | date, object]]) -> list:
    """Each request judged by the policies and ConfigMaps generated for its moment."""
    import yaml

    from replica_ledger.policies import folder
    from replica_ledger.policies.generate import day_files
    from replica_ledger.warehouse import open_warehouse
    from tests.replica_ledger.policies.admission import admit

    warehouse, decisions, cache = open_warehouse(settings), [], {}
    for moment, request in requests_at:
        if moment not in cache:
            if isinstance(moment, datetime):  # the limits in force at that instant
                from replica_ledger.policies import objects
                from replica_ledger.warehouse import queries

                rows = queries.limits_in_force(warehouse, moment)
                limits = [objects.Limit(r["namespace"], r["deployment"], int(r["max_replicas"])) for r in rows]
                files = folder.build_files(limits, ["gke-demo-eu"], ("Warn", "Audit")).files
            else:  # the day's folder, as the DAG writes it
                files = day_files(settings, moment, warehouse=warehouse).files
            cache[moment] = (
                list(yaml.safe_load_all(files[folder.ADMISSION])),
                list(yaml.safe_load_all(files[folder.CONFIG_MAPS])),
            )
        decisions.append(admit(*cache[moment], request))
    return decisions


def test_the_days_policies_flag_exactly_the_snapshots_the_ledger_finds_over_their_limit(demo_month):
    """Every Deployment and HPA of every snapshot day, written again under that day's folder:
    flagged exactly where fct_replica_breaches has replicas_over_limit / hpa_max_over_limit."""
    from tests.replica_ledger.policies.admission import deployment_request, hpa_request

    requests = [
        ((day, cluster, namespace, name, "replicas_over_limit"), day, deployment_request(namespace, name, replicas))
        for day, cluster, namespace, name, replicas in query(
            demo_month, "select snapshot_date, cluster, namespace, deployment, spec_replicas from raw.k8s_deployments"
        )
    ] + [
        ((day, cluster, namespace, target, "hpa_max_over_limit"), day, hpa_request(namespace, hpa, top, target=target))
        for day, cluster, namespace, hpa, target, top in query(
            demo_month,
            "select snapshot_date, cluster, namespace, hpa, target_name, max_replicas from raw.k8s_hpas"
            " where target_kind = 'Deployment'",
        )
    ]
    decisions = _judge(demo_month, [(day, request) for _, day, request in requests])
    flagged = {key for (key, _, _), decision in zip(requests, decisions, strict=True) if decision.flagged}
    breaches = set(
        query(
            demo_month,
            "select snapshot_date, cluster, namespace, deployment, breach_type from main.fct_replica_breaches"
            " where breach_type in ('replicas_over_limit', 'hpa_max_over_limit')",
        )
    )
    assert len(requests) > 300 and len(breaches) >= 5
    assert flagged == breaches


def test_the_writes_after_the_rollout_carry_the_annotation_exactly_where_the_policies_warn(demo_month):
    """Each write of the demo audit log from day 9, judged under the limits in force at its
    moment: warned exactly when its entry carries the audit annotation, with the same message."""
    import json as json_module

    from replica_ledger.audit.admission import ANNOTATION
    from replica_ledger.audit.entries import read_entry
    from tests.replica_ledger.policies.admission import AUDIT_KEY, Request

    written = []
    for line in (DEMO / "audit_log.jsonl").read_text().splitlines():
        raw = json_module.loads(line)
        entry = read_entry(raw)
        if entry.at < POLICIES_APPLIED_FROM or entry.verb == "delete" or not isinstance(entry.response, dict):
            continue
        group, version = ("apps", "v1") if entry.resource == "deployments" else ("autoscaling", "v2")
        operation = "CREATE" if entry.verb == "create" else "UPDATE"
        request = Request(
            group, version, entry.resource, operation, entry.namespace, entry.response, entry.subresource or ""
        )
        written.append((entry, (raw.get("labels") or {}).get(ANNOTATION), request))
    decisions = _judge(demo_month, [(entry.at, request) for entry, _, request in written])
    warned = {
        entry.audit_id: d.audit_annotations[AUDIT_KEY]
        for (entry, _, _), d in zip(written, decisions, strict=True)
        if d.warnings
    }
    annotated = {entry.audit_id: annotation for entry, annotation, _ in written if annotation}
    assert sorted(annotated) == ["demo-0006", "demo-0010", "demo-0014"]  # Ana, Sam, the controller into Sam's max
    assert {key: json_module.loads(value) for key, value in warned.items()} == {
        key: json_module.loads(value) for key, value in annotated.items()
    }


def test_the_edits_say_which_the_admission_policies_warned(demo_month):
    rows = query(
        demo_month,
        "select split_part(principal, '@', 1), strftime(changed_at, '%d %H:%M'), admission_failure"
        " from main.fct_limit_edits where admission_failure is not null order by changed_at",
    )
    assert [(who, at) for who, at, _ in rows] == [("ana.lopez", "10 15:20"), ("sam.ortiz", "14 10:12")]
    assert rows[0][2].startswith(
        "replica-ledger-hpa-max-replicas: HPA maxReplicas 6 of payments/payments-api exceeds the approved max of 3"
    )


def test_the_report_says_admission_warned_who_and_when(demo_month):
    report = render_report(demo_month)
    section = report.split("Edits the admission policies flagged (audit log) (2)\n", 1)[1].split("\n\n", 1)[0]
    assert "admission warned ana.lopez at 15:20" in section
    assert "admission warned sam.ortiz at 10:12" in section
    assert "HPA max 3 -> 6" in section

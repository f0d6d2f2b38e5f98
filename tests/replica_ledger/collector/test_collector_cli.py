"""The collector CLI end to end: main(argv) -> official client -> fake API server on 127.0.0.1 -> files.

No test asserts how fast anything is; the only time check is a lower bound the server
itself records (the client waited at least Retry-After before asking again).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from replica_ledger.collector.collect import default_snapshot_date
from tests.support.collector_run import CLUSTER, items_of_kind, read_snapshot, snapshot_date
from tooling.fake_kube_api import ALWAYS, FakeKubeApi, Fault, object_name

REPO_ROOT = Path(__file__).resolve().parents[3]
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def pages_requested(api: FakeKubeApi, resource: str) -> list[tuple[int, int]]:
    return [(request.page, request.status) for request in api.recorded_requests(resource)]


def names(items: list[dict]) -> list[str]:
    return [item["metadata"]["name"] for item in items]


# ----------------------------------------------------------------------------- format and paging


def test_several_pages_become_one_kubectl_style_list(run_collector, collector_env):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_PAGE_SIZE", "250")
    with FakeKubeApi(deployments=1200, hpas=700) as api:
        run = run_collector(api)

    assert run.exit_code == 0, run.stderr
    assert pages_requested(api, "deployments") == [(page, 200) for page in range(5)]
    assert pages_requested(api, "hpas") == [(page, 200) for page in range(3)]
    assert {request.limit for request in api.recorded_requests()} == {250}

    assert sorted(path.name for path in run.day_dir().iterdir()) == [
        f"{CLUSTER}.json",
        f"{CLUSTER}.meta.json",
    ]
    snapshot = read_snapshot(run.day_dir() / f"{CLUSTER}.json")
    assert list(snapshot) == ["apiVersion", "kind", "metadata", "items"]
    assert (snapshot["apiVersion"], snapshot["kind"], snapshot["metadata"]) == (
        "v1",
        "List",
        {"resourceVersion": ""},
    )
    # kubectl order: every Deployment, then every HPA, each stamped with its own apiVersion/kind first.
    kinds = [(item["apiVersion"], item["kind"]) for item in snapshot["items"]]
    assert kinds == [("apps/v1", "Deployment")] * 1200 + [("autoscaling/v2", "HorizontalPodAutoscaler")] * 700
    assert all(list(item)[:2] == ["apiVersion", "kind"] for item in snapshot["items"])
    assert names(items_of_kind(snapshot, "Deployment")) == [object_name(i) for i in range(1200)]
    assert names(items_of_kind(snapshot, "HorizontalPodAutoscaler")) == [object_name(i) for i in range(700)]
    # kubectl hides managedFields; everything else comes through untouched.
    assert not any("managedFields" in item["metadata"] for item in snapshot["items"])
    first = snapshot["items"][0]
    assert first["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "1",
        "memory": "2Gi",
    }
    hpa = items_of_kind(snapshot, "HorizontalPodAutoscaler")[0]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": object_name(0),
    }

    meta = json.loads((run.day_dir() / f"{CLUSTER}.meta.json").read_text())
    assert list(meta) == ["cluster", "captured_at"]
    assert meta["cluster"] == CLUSTER
    assert RFC3339_UTC.fullmatch(meta["captured_at"])


def test_an_empty_cluster_is_an_empty_list(run_collector):
    with FakeKubeApi() as api:
        run = run_collector(api)
    assert run.exit_code == 0, run.stderr
    assert read_snapshot(run.day_dir() / f"{CLUSTER}.json")["items"] == []


def test_ten_thousand_deployments_and_ten_thousand_hpas_are_all_there(run_collector):
    with FakeKubeApi(deployments=10_000, hpas=10_000) as api:
        run = run_collector(api)

    assert run.exit_code == 0, run.stderr
    snapshot = read_snapshot(run.day_dir() / f"{CLUSTER}.json")
    deployments = items_of_kind(snapshot, "Deployment")
    hpas = items_of_kind(snapshot, "HorizontalPodAutoscaler")
    assert (len(deployments), len(hpas), len(snapshot["items"])) == (10_000, 10_000, 20_000)
    assert len({(d["metadata"]["namespace"], d["metadata"]["name"]) for d in deployments}) == 10_000
    assert names(hpas) == [object_name(i) for i in range(10_000)]
    # The default page size is kubectl's 500.
    assert len(api.recorded_requests("deployments")) == 20


def test_names_with_dots_and_dashes_in_cluster_and_objects(run_collector):
    cluster = "gke-prod-europe-west1-b"  # a cluster name is a DNS-1123 label: dashes, no dots
    with FakeKubeApi(deployments=12, hpas=12) as api:
        run = run_collector(api, cluster=cluster)

    assert run.exit_code == 0, run.stderr
    assert sorted(path.name for path in run.day_dir().iterdir()) == [
        f"{cluster}.json",
        f"{cluster}.meta.json",
    ]
    snapshot = read_snapshot(run.day_dir() / f"{cluster}.json")
    assert {"checkout.v2-00001", "search.api-edge-00003", "auth.token-svc-00005"} <= set(names(snapshot["items"]))
    assert json.loads((run.day_dir() / f"{cluster}.meta.json").read_text())["cluster"] == cluster


@pytest.mark.parametrize(
    "cluster", ["../escape", "a/b", ".hidden", "prod.meta", "", "x y", "GKE-EU", "gke_eu", "gke.eu", "g" * 64]
)
def test_cluster_names_that_are_not_safe_file_names_are_refused(run_collector, cluster):
    with FakeKubeApi() as api:
        run = run_collector(api, cluster=cluster)
    assert run.exit_code == 2
    assert "invalid cluster name" in run.stderr
    assert api.recorded_requests() == []


# ----------------------------------------------------------------------------- 410, 429, 5xx, timeouts


def test_410_in_the_middle_lists_that_resource_again_without_duplicates(run_collector, collector_env):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_PAGE_SIZE", "100")
    with FakeKubeApi(deployments=450, hpas=150, faults=[Fault.gone("deployments", page=2)]) as api:
        run = run_collector(api)

    assert run.exit_code == 0, run.stderr
    assert pages_requested(api, "deployments") == [(0, 200), (1, 200), (2, 410)] + [(p, 200) for p in range(5)]
    restarted = api.recorded_requests("deployments")[3]
    assert restarted.continue_token is None  # a fresh list, not the expired token again
    snapshot = read_snapshot(run.day_dir() / f"{CLUSTER}.json")
    assert names(items_of_kind(snapshot, "Deployment")) == [object_name(i) for i in range(450)]
    assert len(items_of_kind(snapshot, "HorizontalPodAutoscaler")) == 150


def test_410_on_every_listing_gives_up_after_the_restart_limit(run_collector, collector_env):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_PAGE_SIZE", "100")
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_MAX_LIST_RESTARTS", "2")
    with FakeKubeApi(deployments=300, faults=[Fault.gone("deployments", page=1, times=ALWAYS)]) as api:
        run = run_collector(api)

    assert run.exit_code == 1
    assert run.last_stderr_line.startswith(
        "giving up listing deployments.apps: continue token expired (410 Gone) in 3 consecutive listings"
    )
    assert [status for _, status in pages_requested(api, "deployments")] == [200, 410] * 3
    assert not run.day_dir().exists() or list(run.day_dir().iterdir()) == []


def test_429_waits_at_least_retry_after_before_asking_again(run_collector):
    with FakeKubeApi(deployments=5, hpas=5, faults=[Fault.throttled("hpas", page=0, retry_after_s=1)]) as api:
        run = run_collector(api)

    assert run.exit_code == 0, run.stderr
    throttled, retried = api.recorded_requests("hpas")
    assert (throttled.status, retried.status) == (429, 200)
    # Times recorded by the server on arrival; the backoff alone (0.01 s here) would be far shorter.
    assert retried.arrived_at - throttled.arrived_at >= 1.0
    assert len(items_of_kind(read_snapshot(run.day_dir() / f"{CLUSTER}.json"), "HorizontalPodAutoscaler")) == 5


def test_500_then_success_retries_the_same_page(run_collector, collector_env):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_PAGE_SIZE", "10")
    with FakeKubeApi(deployments=25, faults=[Fault.server_error("deployments", page=1, times=2)]) as api:
        run = run_collector(api)

    assert run.exit_code == 0, run.stderr
    assert pages_requested(api, "deployments") == [(0, 200), (1, 500), (1, 500), (1, 200), (2, 200)]
    retried = api.recorded_requests("deployments")[1:4]
    assert len({request.continue_token for request in retried}) == 1  # same token each time
    snapshot = read_snapshot(run.day_dir() / f"{CLUSTER}.json")
    assert names(snapshot["items"]) == [object_name(i) for i in range(25)]


def test_persistent_5xx_gives_up_after_the_retry_limit(run_collector, collector_env):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_MAX_RETRIES", "2")
    with FakeKubeApi(
        deployments=5, faults=[Fault.server_error("deployments", page=0, status=503, times=ALWAYS)]
    ) as api:
        run = run_collector(api)

    assert run.exit_code == 1
    assert run.last_stderr_line == (
        "giving up listing deployments.apps after 3 attempts: HTTP 503 Service Unavailable: "
        "The server is currently unable to handle the request"
    )
    assert len(api.recorded_requests("deployments")) == 3
    assert not (run.day_dir() / f"{CLUSTER}.json").exists()


def test_a_slow_answer_times_out_and_the_retry_succeeds(run_collector, collector_env):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT", "0.3")
    with FakeKubeApi(deployments=3, hpas=3, faults=[Fault.slow("deployments", page=0, delay_s=3)]) as api:
        run = run_collector(api)

    assert run.exit_code == 0, run.stderr
    assert len(api.recorded_requests("deployments")) == 2
    assert len(read_snapshot(run.day_dir() / f"{CLUSTER}.json")["items"]) == 6


def test_a_server_that_never_answers_in_time_fails_clearly(run_collector, collector_env):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT", "0.2")
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_MAX_RETRIES", "1")
    with FakeKubeApi(deployments=3, faults=[Fault.slow("deployments", page=0, delay_s=3, times=ALWAYS)]) as api:
        run = run_collector(api)
        address = api.address

    assert run.exit_code == 1
    assert run.last_stderr_line == (
        f"giving up listing deployments.apps after 2 attempts: no response from {address} within 0.2s "
        "(read timeout, REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT)"
    )
    assert not (run.day_dir() / f"{CLUSTER}.json").exists()


# ----------------------------------------------------------------------------- access denied


def test_403_names_the_missing_grant_and_exits_non_zero_without_retrying(run_collector):
    with FakeKubeApi(deployments=700, hpas=5, faults=[Fault.forbidden("hpas")]) as api:
        run = run_collector(api)

    assert run.exit_code == 3
    assert run.last_stderr_line == (
        "forbidden: cannot list horizontalpodautoscalers.autoscaling at cluster scope; "
        "grant get/list on horizontalpodautoscalers.autoscaling (see include/k8s/rbac.yaml)"
    )
    assert pages_requested(api, "hpas") == [(0, 403)]


def test_401_says_the_credentials_were_rejected(run_collector, tmp_path):
    with FakeKubeApi(deployments=1) as api:
        api.write_kubeconfig(tmp_path / "wrong.yaml", token="not-the-token")
        run = run_collector(api, "--kubeconfig", str(tmp_path / "wrong.yaml"))

    assert run.exit_code == 3
    assert run.last_stderr_line.startswith(
        "unauthorized: cannot list deployments.apps at cluster scope; the API server rejected the credentials"
    )


# ----------------------------------------------------------------------------- atomic output


def test_a_failure_leaves_no_file_under_the_final_name_and_keeps_the_previous_one(run_collector):
    with FakeKubeApi(deployments=1200, hpas=5) as api:
        first = run_collector(api)
    assert first.exit_code == 0, first.stderr
    data_file = first.day_dir() / f"{CLUSTER}.json"
    previous = data_file.read_bytes()
    (first.day_dir() / f"{CLUSTER}.meta.json").unlink()

    # Deployments (three pages) are written before the HPAs are refused.
    with FakeKubeApi(deployments=1500, hpas=5, faults=[Fault.forbidden("hpas")]) as api:
        failed = run_collector(api)

    assert failed.exit_code == 3
    assert data_file.read_bytes() == previous
    # Neither a meta file for the failed run nor a leftover temp file.
    assert [path.name for path in failed.day_dir().iterdir()] == [f"{CLUSTER}.json"]


def test_a_failure_on_a_fresh_day_leaves_the_day_empty(run_collector):
    with FakeKubeApi(deployments=800, hpas=5, faults=[Fault.forbidden("hpas")]) as api:
        run = run_collector(api)
    assert run.exit_code == 3
    assert list(run.day_dir().iterdir()) == []


# ----------------------------------------------------------------------------- gzip and GCS


def test_gzip_output_when_asked_and_rewinds_inside_the_gzip_stream_after_410(run_collector, collector_env):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_GZIP", "1")
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_PAGE_SIZE", "200")
    with FakeKubeApi(deployments=900, hpas=450, faults=[Fault.gone("hpas", page=2)]) as api:
        run = run_collector(api)

    assert run.exit_code == 0, run.stderr
    assert sorted(path.name for path in run.day_dir().iterdir()) == [
        f"{CLUSTER}.json.gz",
        f"{CLUSTER}.meta.json",
    ]
    raw = (run.day_dir() / f"{CLUSTER}.json.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    snapshot = json.loads(gzip.decompress(raw))
    assert names(items_of_kind(snapshot, "Deployment")) == [object_name(i) for i in range(900)]
    assert names(items_of_kind(snapshot, "HorizontalPodAutoscaler")) == [object_name(i) for i in range(450)]


def test_gs_output_uploads_gzip_then_meta(run_collector, empty_gcs):
    bucket = empty_gcs.create_bucket("replica-archive")
    with FakeKubeApi(deployments=30, hpas=20) as api:
        run = run_collector(api, output="gs://replica-archive/snapshots/")

    assert run.exit_code == 0, run.stderr
    data_name = f"snapshots/dt={snapshot_date()}/{CLUSTER}.json.gz"
    meta_name = f"snapshots/dt={snapshot_date()}/{CLUSTER}.meta.json"
    # Generations are the emulator's microsecond clock at upload: their order is the upload order.
    uploaded = sorted(empty_gcs.client().list_blobs(bucket.name), key=lambda blob: blob.generation)
    assert [blob.name for blob in uploaded] == [data_name, meta_name]
    data, meta = uploaded
    assert (data.content_type, data.content_encoding) == ("application/gzip", None)
    assert len(json.loads(gzip.decompress(data.download_as_bytes()))["items"]) == 50
    assert meta.content_type == "application/json"
    assert json.loads(meta.download_as_bytes())["cluster"] == CLUSTER


def test_gs_upload_refused_is_a_clear_failure_with_nothing_uploaded(run_collector, empty_gcs):
    """GCS refuses the upload (here: the bucket does not exist): exit 1, the object named, nothing stored."""
    with FakeKubeApi(deployments=3) as api:
        run = run_collector(api, output="gs://replica-archive")

    assert run.exit_code == 1
    assert run.last_stderr_line.startswith(
        f"cannot upload gs://replica-archive/dt={snapshot_date()}/{CLUSTER}.json.gz: 404"
    )
    client = empty_gcs.client()
    assert [bucket.name for bucket in client.list_buckets()] == []


# ----------------------------------------------------------------------------- dates and arguments


def test_date_defaults_to_the_utc_day_before_the_capture(run_collector, clock):
    before = clock.now()
    with FakeKubeApi(deployments=1) as api:
        run = run_collector(api, date=None)
    after = clock.now()

    assert run.exit_code == 0, run.stderr
    # Two candidates only if the run straddles midnight UTC.
    candidates = {default_snapshot_date(before), default_snapshot_date(after)}
    written = [path.name for path in run.output.iterdir()]
    assert len(written) == 1
    assert written[0] in {f"dt={day.isoformat()}" for day in candidates}
    captured_at = json.loads((run.output / written[0] / f"{CLUSTER}.meta.json").read_text())["captured_at"]
    assert date.fromisoformat(written[0].removeprefix("dt=")) == (
        datetime.fromisoformat(captured_at).date() - timedelta(days=1)
    )


@pytest.mark.parametrize(
    ("captured_at", "expected"),
    [
        (datetime(2026, 10, 12, 0, 4, 31, tzinfo=UTC), date(2026, 10, 11)),  # the contract's example
        (datetime(2026, 10, 12, 23, 59, 59, tzinfo=UTC), date(2026, 10, 11)),
        (datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC), date(2026, 2, 28)),
        # 01:30 in Berlin is still 23:30 UTC of the 11th: the UTC day counts.
        (datetime.fromisoformat("2026-10-12T01:30:00+02:00"), date(2026, 10, 10)),
    ],
)
def test_default_snapshot_date(captured_at, expected):
    assert default_snapshot_date(captured_at) == expected


@pytest.mark.parametrize("bad_date", ["2026-13-01", "20261011", "2026-W41-1", "yesterday"])
def test_bad_dates_are_usage_errors(run_collector, bad_date):
    with FakeKubeApi() as api:
        run = run_collector(api, date=bad_date)
    assert run.exit_code == 2
    assert "--date" in run.stderr


def test_context_without_kubeconfig_is_a_usage_error(capsys):
    from replica_ledger.collector.__main__ import main

    assert main(["--cluster", "c", "--output", "/nonexistent", "--context", "x"]) == 2
    assert capsys.readouterr().err.strip().endswith("error: --context needs --kubeconfig")


def test_without_kubeconfig_outside_a_cluster_says_so(tmp_path, capsys, monkeypatch):
    from replica_ledger.collector.__main__ import main

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    assert main(["--cluster", "c", "--output", str(tmp_path)]) == 4  # permanent: no retry helps
    err = capsys.readouterr().err.strip()
    assert err.startswith("no in-cluster service account (")
    assert err.endswith("outside a pod pass --kubeconfig")
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_context_is_a_clear_failure(run_collector):
    with FakeKubeApi() as api:
        run = run_collector(api, "--context", "nope")
    assert run.exit_code == 4  # permanent: no retry helps
    assert run.last_stderr_line.startswith("cannot load kubeconfig ")
    assert api.recorded_requests() == []


def test_the_named_context_is_used(run_collector):
    with FakeKubeApi(deployments=2) as api:
        run = run_collector(api, "--context", "fake")
    assert run.exit_code == 0, run.stderr


def test_a_bad_setting_is_a_usage_error(run_collector, collector_env):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_PAGE_SIZE", "lots")
    with FakeKubeApi() as api:
        run = run_collector(api)
    assert run.exit_code == 2
    assert run.last_stderr_line == "REPLICA_LEDGER_COLLECTOR_PAGE_SIZE='lots' is not a valid int"


# ----------------------------------------------------------------------------- as a real command


def test_python_dash_m_runs_the_collector(tmp_path, clock):
    env = {key: value for key, value in os.environ.items() if not key.startswith("REPLICA_LEDGER_COLLECTOR_")}
    env["REPLICA_LEDGER_COLLECTOR_PAGE_SIZE"] = "40"
    env.update(clock.env())  # the subprocess's clock starts at the test's
    day = snapshot_date()
    with FakeKubeApi(deployments=100, hpas=60) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig.yaml")
        completed = subprocess.run(
            [
                *(sys.executable, "-m", "replica_ledger.collector", "--cluster", "gke-sub-proc"),
                *(
                    "--output",
                    str(tmp_path / "out"),
                    "--kubeconfig",
                    str(kubeconfig),
                    "--date",
                    day,
                ),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert completed.returncode == 0, completed.stderr
    assert "listed 100 deployments.apps in 3 pages" in completed.stderr
    snapshot = read_snapshot(tmp_path / "out" / f"dt={day}" / "gke-sub-proc.json")
    assert len(items_of_kind(snapshot, "Deployment")) == 100
    assert len(items_of_kind(snapshot, "HorizontalPodAutoscaler")) == 60
    assert (tmp_path / "out" / f"dt={day}" / "gke-sub-proc.meta.json").exists()

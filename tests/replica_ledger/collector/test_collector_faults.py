"""The collector on ordinary faults: the true cause on one line, the right exit status, no retry of
what cannot change, and an end within the deadline.

Every fault is real: the fake API server on 127.0.0.1 over HTTP or TLS, a listener that
accepts and never answers, one that speaks another protocol, a port nobody listens on.
Nothing here asserts a duration; runs that would hang are bounded by a small
REPLICA_LEDGER_COLLECTOR_DEADLINE_SECONDS, and pytest-timeout only catches a regression.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from replica_ledger.collector.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_DEADLINE,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PERMANENT,
)
from tests.support.collector_run import CLUSTER, read_snapshot
from tooling.fake_kube_api import (
    BrokenServer,
    FakeKubeApi,
    Fault,
    closed_port,
    write_kubeconfig,
)

DEADLINE_ENV = "REPLICA_LEDGER_COLLECTOR_DEADLINE_SECONDS"
# Far longer than any deadline set here: if a hang ends, the deadline ended it.
LONG_READ_TIMEOUT = "600"
LONG_FAULT_S = 600.0


def statuses(api: FakeKubeApi) -> list[int]:
    return [request.status for request in api.recorded_requests()]


def assert_nothing_written(run) -> None:
    assert not run.day_dir().exists() or list(run.day_dir().iterdir()) == []


@pytest.fixture
def kubeconfig_file(tmp_path: Path) -> Path:
    return tmp_path / "kubeconfig.yaml"


# ----------------------------------------------------------------------------- kubeconfig: exit 4, no request


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{{{ not: yaml: [", "is not valid YAML: expected ',' or '}', but got ':' at line 1, column 14"),
        ("clusters:\n\t- name: tab-indented\n", "is not valid YAML: found character '\\t'"),
        ("", "is not a kubeconfig: expected a mapping with clusters, users and contexts, found an empty file"),
        (
            "- just\n- a list\n",
            "is not a kubeconfig: expected a mapping with clusters, users and contexts, found a YAML list",
        ),
    ],
)
def test_a_kubeconfig_that_is_not_a_yaml_mapping_is_reported_without_any_request(
    run_collector, kubeconfig_file, content, expected
):
    kubeconfig_file.write_text(content)
    with FakeKubeApi(deployments=1) as api:
        run = run_collector(api, kubeconfig=kubeconfig_file)

    assert run.exit_code == EXIT_PERMANENT
    assert run.last_stderr_line.startswith(f"kubeconfig {kubeconfig_file} {expected}")
    assert "Traceback" not in run.stderr
    assert api.connections == 0
    assert_nothing_written(run)


def test_a_kubeconfig_with_a_malformed_structure_is_reported_without_a_traceback(run_collector, kubeconfig_file):
    kubeconfig_file.write_text("apiVersion: v1\nkind: Config\nclusters: nonsense\ncurrent-context: x\ncontexts: 7\n")
    with FakeKubeApi(deployments=1) as api:
        run = run_collector(api, kubeconfig=kubeconfig_file)

    assert run.exit_code == EXIT_PERMANENT
    assert run.last_stderr_line.startswith(f"cannot load kubeconfig {kubeconfig_file}: ")
    assert "Traceback" not in run.stderr
    assert api.connections == 0


def test_a_missing_kubeconfig_file_is_named(run_collector, tmp_path):
    missing = tmp_path / "nowhere" / "kubeconfig.yaml"
    run = run_collector(None, kubeconfig=missing)
    assert run.exit_code == EXIT_PERMANENT
    assert run.last_stderr_line == f"cannot read kubeconfig {missing}: No such file or directory"


@pytest.mark.parametrize(
    ("server", "problem"),
    [
        ("not a url", "it does not start with https:// or http://"),
        ("127.0.0.1:6443", "it does not start with https:// or http://"),
        ("ftp://127.0.0.1", "it does not start with https:// or http://"),
        ("https://", "it names no host"),
        ("https://127.0.0.1:port", "Failed to parse: '127.0.0.1:port' is not a valid host or port"),
    ],
)
def test_a_server_that_is_not_an_http_url_fails_before_any_request(
    run_collector, kubeconfig_file, caplog, server, problem
):
    write_kubeconfig(kubeconfig_file, server, "a-token")
    run = run_collector(None, kubeconfig=kubeconfig_file)

    assert run.exit_code == EXIT_PERMANENT
    # The client's loader drops a trailing slash: https:// arrives as https:.
    shown = server.rstrip("/")
    assert run.last_stderr_line == (
        f"the API server URL {shown!r} from kubeconfig {kubeconfig_file} is not usable: {problem} "
        "(expected https://HOST[:PORT]; check the server URL of the cluster in the kubeconfig)"
    )
    assert "retry" not in caplog.text


# ----------------------------------------------------------------------------- TLS and protocol: exit 4, one try


def test_https_url_to_a_plain_http_server_says_the_server_does_not_speak_tls(run_collector, tmp_path):
    with FakeKubeApi(deployments=1) as api:
        https_url = api.url.replace("http://", "https://")
        kubeconfig = api.write_kubeconfig(tmp_path / "kc.yaml", server_url=https_url)
        run = run_collector(api, kubeconfig=kubeconfig)
        address = api.address

    assert run.exit_code == EXIT_PERMANENT
    assert run.last_stderr_line.startswith(
        f"{address} does not speak TLS (WRONG_VERSION_NUMBER): the server URL {https_url} says https, "
        "the server answers in plain HTTP"
    )
    assert "AttributeError" not in run.stderr
    assert api.connections == 1
    assert api.recorded_requests() == []  # a TLS hello is no HTTP request
    assert_nothing_written(run)


def test_http_url_to_a_tls_server_says_the_server_speaks_tls(run_collector, tmp_path):
    with FakeKubeApi(deployments=1, tls=True) as api:
        http_url = api.url.replace("https://", "http://")
        kubeconfig = api.write_kubeconfig(tmp_path / "kc.yaml", server_url=http_url)
        run = run_collector(api, kubeconfig=kubeconfig)

    assert run.exit_code == EXIT_PERMANENT
    assert run.last_stderr_line == (
        "listing deployments.apps failed: HTTP 400 Bad Request: Client sent an HTTP request to an HTTPS server. "
        f"(the server speaks TLS: the server URL {http_url} should start with https://)"
    )
    assert api.connections == 1


def test_a_tls_server_works_when_the_kubeconfig_trusts_its_certificate(run_collector):
    with FakeKubeApi(deployments=30, hpas=20, tls=True) as api:
        run = run_collector(api)
        url = api.url

    assert run.exit_code == EXIT_OK, run.stderr
    assert url.startswith("https://")
    assert len(read_snapshot(run.day_dir() / f"{CLUSTER}.json")["items"]) == 50


def test_an_untrusted_certificate_is_named_and_not_retried(run_collector, tmp_path):
    with FakeKubeApi(deployments=1, tls=True) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kc.yaml", trust_certificate=False)
        run = run_collector(api, kubeconfig=kubeconfig)
        address = api.address

    assert run.exit_code == EXIT_PERMANENT
    line = run.last_stderr_line
    assert line.startswith(f"TLS certificate of {address} is not trusted: self")  # self-signed / self signed
    assert line.endswith("(set certificate-authority or certificate-authority-data for the cluster in the kubeconfig)")
    assert api.connections == 1
    assert api.recorded_requests() == []


def test_a_server_speaking_another_protocol_is_not_http(run_collector, kubeconfig_file):
    with BrokenServer(BrokenServer.GARBAGE) as server:
        write_kubeconfig(kubeconfig_file, f"http://{server.address}", "a-token")
        run = run_collector(None, kubeconfig=kubeconfig_file)
        connections, address = server.connections, server.address

    assert run.exit_code == EXIT_PERMANENT
    assert run.last_stderr_line.startswith(
        f"{address} does not speak HTTP (it answered 'SSH-2.0-OpenSSH_9.6\\r\\n'); "
        f"is http://{address} a Kubernetes API server?"
    )
    assert connections == 1


def test_a_web_server_that_is_not_kubernetes_is_named(run_collector):
    with FakeKubeApi(deployments=1, faults=[Fault.not_kubernetes("deployments")]) as api:
        run = run_collector(api)
        url = api.url

    assert run.exit_code == EXIT_PERMANENT
    assert run.last_stderr_line.startswith(
        f"listing deployments.apps: the answer from {url} is not a Kubernetes list (not JSON: "
    )
    assert "Content-Type text/html" in run.last_stderr_line
    assert statuses(api) == [200]


# ----------------------------------------------------------------------------- HTTP answers no retry can change


def test_404_for_a_url_that_is_not_the_api_server(run_collector, tmp_path):
    with FakeKubeApi(deployments=1) as api:
        wrong_url = f"{api.url}/not-kubernetes"
        kubeconfig = api.write_kubeconfig(tmp_path / "kc.yaml", server_url=wrong_url)
        run = run_collector(api, kubeconfig=kubeconfig)

    assert run.exit_code == EXIT_PERMANENT
    assert run.last_stderr_line == (
        "listing deployments.apps failed: HTTP 404 Not Found: 404 page not found "
        f"(is {wrong_url} the Kubernetes API server? check the server URL of the cluster in the kubeconfig)"
    )
    assert [(request.resource, request.status) for request in api.recorded_requests()] == [
        ("/not-kubernetes/apis/apps/v1/deployments", 404)
    ]


def test_400_is_not_retried(run_collector):
    with FakeKubeApi(deployments=1, faults=[Fault.answer("deployments", 400)]) as api:
        run = run_collector(api)

    assert run.exit_code == EXIT_PERMANENT
    assert run.last_stderr_line == "listing deployments.apps failed: HTTP 400 Bad Request: injected"
    assert statuses(api) == [400]


@pytest.mark.parametrize(("fault", "status"), [(Fault.unauthorized, 401), (Fault.forbidden, 403)])
def test_401_and_403_make_exactly_one_request(run_collector, fault, status):
    with FakeKubeApi(deployments=1, faults=[fault("deployments")]) as api:
        run = run_collector(api)

    assert run.exit_code == EXIT_ACCESS_DENIED
    expected = "unauthorized: cannot list" if status == 401 else "forbidden: cannot list"
    assert run.last_stderr_line.startswith(f"{expected} deployments.apps at cluster scope")
    assert statuses(api) == [status]


# ----------------------------------------------------------------------------- transient: retried, then exit 1


def test_connection_refused_is_retried_and_reported_as_refused(run_collector, collector_env, kubeconfig_file, caplog):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_MAX_RETRIES", "2")
    port = closed_port()
    write_kubeconfig(kubeconfig_file, f"http://127.0.0.1:{port}", "a-token")
    run = run_collector(None, kubeconfig=kubeconfig_file)

    assert run.exit_code == EXIT_FAILURE
    assert run.last_stderr_line == (
        f"giving up listing deployments.apps after 3 attempts: connection refused by 127.0.0.1:{port} "
        "(the API server is down or restarting, or the kubeconfig server URL has a wrong port)"
    )
    retries = [record.getMessage() for record in caplog.records if "retry" in record.getMessage()]
    assert len(retries) == 2
    assert all(f"connection refused by 127.0.0.1:{port}" in message for message in retries)
    assert "timeout" not in caplog.text + run.stderr


def test_500_with_retry_after_waits_for_it_then_succeeds(run_collector, caplog):
    fault = Fault.server_error("deployments", page=0, status=500, retry_after_s=1)
    with FakeKubeApi(deployments=4, hpas=2, faults=[fault]) as api:
        run = run_collector(api)

    assert run.exit_code == EXIT_OK, run.stderr
    failed, retried = api.recorded_requests("deployments")
    assert (failed.status, retried.status) == (500, 200)
    assert retried.arrived_at - failed.arrived_at >= 1.0  # server clock: Retry-After was honoured
    assert "HTTP 500 Internal Server Error: Internal error occurred: injected by fake_kube_api (Retry-After 1s)" in (
        caplog.text
    )


@pytest.mark.timeout(120)
def test_a_server_that_accepts_and_never_answers_is_given_up_after_two_timeouts(
    run_collector, collector_env, kubeconfig_file
):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT", "0.3")
    with BrokenServer(BrokenServer.HANG) as server:
        write_kubeconfig(kubeconfig_file, f"http://{server.address}", "a-token")
        run = run_collector(None, kubeconfig=kubeconfig_file)
        connections, address = server.connections, server.address

    assert run.exit_code == EXIT_FAILURE
    assert run.last_stderr_line == (
        f"giving up listing deployments.apps after 2 attempts: no response from {address} within 0.3s "
        "(read timeout, REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT); 2 timeouts in a row "
        "(REPLICA_LEDGER_COLLECTOR_MAX_TIMEOUTS)"
    )
    assert connections == 2  # MAX_RETRIES (5) would have allowed six


@pytest.mark.timeout(120)
def test_a_tls_handshake_that_never_comes_is_a_connect_timeout(run_collector, collector_env, kubeconfig_file):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_CONNECT_TIMEOUT", "0.3")
    with BrokenServer(BrokenServer.HANG) as server:
        write_kubeconfig(kubeconfig_file, f"https://{server.address}", "a-token")
        run = run_collector(None, kubeconfig=kubeconfig_file)
        connections, address = server.connections, server.address

    assert run.exit_code == EXIT_FAILURE
    assert run.last_stderr_line == (
        f"giving up listing deployments.apps after 2 attempts: no TLS handshake from {address} within 0.3s "
        "(connect timeout, REPLICA_LEDGER_COLLECTOR_CONNECT_TIMEOUT); 2 timeouts in a row "
        "(REPLICA_LEDGER_COLLECTOR_MAX_TIMEOUTS)"
    )
    assert connections == 2


def test_a_timeout_between_other_failures_does_not_end_the_retries(run_collector, collector_env):
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT", "0.3")
    faults = [
        Fault.slow("deployments", page=0, delay_s=LONG_FAULT_S),
        Fault.server_error("deployments", page=0, status=503),
        Fault.slow("deployments", page=0, delay_s=LONG_FAULT_S),
    ]
    with FakeKubeApi(deployments=2, faults=faults) as api:
        run = run_collector(api)

    assert run.exit_code == EXIT_OK, run.stderr
    assert statuses(api) == [200, 503, 200, 200, 200]  # slow (200 late), 503, slow, deployments, hpas


# ----------------------------------------------------------------------------- the deadline: exit 5


@pytest.mark.timeout(120)
def test_a_server_that_accepts_and_never_answers_ends_at_the_deadline(run_collector, collector_env, kubeconfig_file):
    collector_env.setenv(DEADLINE_ENV, "1.5")
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT", LONG_READ_TIMEOUT)
    with BrokenServer(BrokenServer.HANG) as server:
        write_kubeconfig(kubeconfig_file, f"http://{server.address}", "a-token")
        run = run_collector(None, kubeconfig=kubeconfig_file)
        connections, address = server.connections, server.address

    assert run.exit_code == EXIT_DEADLINE
    line = run.last_stderr_line
    assert line.startswith(
        f"deadline of 1.5s ({DEADLINE_ENV}) ran out while listing deployments.apps: no response from {address}"
    )
    assert line.endswith(f"(the rest of the deadline, {DEADLINE_ENV})")
    assert connections == 1
    assert_nothing_written(run)


@pytest.mark.timeout(120)
def test_a_tls_handshake_that_never_comes_ends_at_the_deadline(run_collector, collector_env, kubeconfig_file):
    collector_env.setenv(DEADLINE_ENV, "1.5")
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_CONNECT_TIMEOUT", LONG_READ_TIMEOUT)
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT", LONG_READ_TIMEOUT)
    with BrokenServer(BrokenServer.HANG) as server:
        write_kubeconfig(kubeconfig_file, f"https://{server.address}", "a-token")
        run = run_collector(None, kubeconfig=kubeconfig_file)
        address = server.address

    assert run.exit_code == EXIT_DEADLINE
    assert run.last_stderr_line.startswith(
        f"deadline of 1.5s ({DEADLINE_ENV}) ran out while listing deployments.apps: no TLS handshake from {address}"
    )


@pytest.mark.timeout(120)
def test_an_api_server_that_never_answers_a_request_ends_at_the_deadline(run_collector, collector_env):
    collector_env.setenv(DEADLINE_ENV, "1.5")
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT", LONG_READ_TIMEOUT)
    fault = Fault.slow("deployments", page=0, delay_s=LONG_FAULT_S)
    with FakeKubeApi(deployments=3, faults=[fault]) as api:
        run = run_collector(api)
        address = api.address

    assert run.exit_code == EXIT_DEADLINE
    assert run.last_stderr_line.startswith(
        f"deadline of 1.5s ({DEADLINE_ENV}) ran out while listing deployments.apps: no response from {address}"
    )
    assert len(api.recorded_requests()) == 1


@pytest.mark.timeout(120)
def test_an_answer_that_stalls_mid_page_ends_at_the_deadline(run_collector, collector_env):
    collector_env.setenv(DEADLINE_ENV, "1.5")
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT", LONG_READ_TIMEOUT)
    with FakeKubeApi(deployments=3, faults=[Fault.stalled("deployments", page=0, stall_s=LONG_FAULT_S)]) as api:
        run = run_collector(api)
        address = api.address

    assert run.exit_code == EXIT_DEADLINE
    assert run.last_stderr_line == (
        f"deadline of 1.5s ({DEADLINE_ENV}) ran out while listing deployments.apps: "
        f"the answer from {address} stalled mid-page"
    )
    assert len(api.recorded_requests()) == 1
    assert_nothing_written(run)


@pytest.mark.timeout(120)
def test_a_retry_after_beyond_the_deadline_gives_up_at_once(run_collector, collector_env):
    collector_env.setenv(DEADLINE_ENV, "30")
    fault = Fault.server_error("deployments", page=0, status=503, retry_after_s=60, times=-1)
    with FakeKubeApi(deployments=3, faults=[fault]) as api:
        run = run_collector(api)

    assert run.exit_code == EXIT_DEADLINE
    assert run.last_stderr_line == (
        "giving up listing deployments.apps after 1 attempt: HTTP 503 Service Unavailable: "
        "The server is currently unable to handle the request (Retry-After 60s); "
        f"the next retry would start after the deadline of 30s ({DEADLINE_ENV})"
    )
    assert statuses(api) == [503]


@pytest.mark.timeout(120)
def test_retries_stop_at_the_deadline_even_with_retries_left(run_collector, collector_env):
    collector_env.setenv(DEADLINE_ENV, "1")
    collector_env.setenv("REPLICA_LEDGER_COLLECTOR_MAX_RETRIES", "1000")
    fault = Fault.server_error("deployments", page=0, status=503, retry_after_s=0, times=-1)
    with FakeKubeApi(deployments=3, faults=[fault]) as api:
        run = run_collector(api)

    assert run.exit_code == EXIT_DEADLINE
    assert "HTTP 503 Service Unavailable" in run.last_stderr_line
    assert f"deadline of 1s ({DEADLINE_ENV})" in run.last_stderr_line
    assert 1 < len(api.recorded_requests()) < 1000

"""Fixtures for collector tests: the real CLI against the fake API server, through the real client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from replica_ledger.collector.__main__ import main
from tests.support.collector_run import CLUSTER, CollectorRun, snapshot_date
from tooling.fake_kube_api import FakeKubeApi


@pytest.fixture(autouse=True)
def collector_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Short backoffs so retry tests stay quick; everything else at its default unless a test says."""
    for name in ("GZIP", "PAGE_SIZE", "READ_TIMEOUT", "MAX_RETRIES", "MAX_LIST_RESTARTS", "DEADLINE_SECONDS"):
        monkeypatch.delenv(f"REPLICA_LEDGER_COLLECTOR_{name}", raising=False)
    monkeypatch.setenv("REPLICA_LEDGER_COLLECTOR_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("REPLICA_LEDGER_COLLECTOR_BACKOFF_CAP", "0.05")
    monkeypatch.setenv("REPLICA_LEDGER_COLLECTOR_CONNECT_TIMEOUT", "5")
    return monkeypatch


#: run_collector's default --date: the day the collector may capture at the test clock's now.
CAPTURABLE_DAY = object()


@pytest.fixture
def run_collector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., CollectorRun]:
    """Runs main(argv) in-process against `api` (or with `kubeconfig`); extra CLI arguments replace the defaults."""

    def run(
        api: FakeKubeApi | None,
        *extra: str,
        cluster: str = CLUSTER,
        date: str | object | None = CAPTURABLE_DAY,
        output: Path | str | None = None,
        kubeconfig: Path | None = None,
    ) -> CollectorRun:
        output = output if output is not None else tmp_path / "archive"
        if kubeconfig is None:
            assert api is not None, "pass the fake server or a kubeconfig"
            kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig.yaml")
        argv = ["--cluster", cluster, "--output", str(output), "--kubeconfig", str(kubeconfig)]
        if date is CAPTURABLE_DAY:
            date = snapshot_date()
        if date is not None:
            argv += ["--date", date]
        capsys.readouterr()
        exit_code = main([*argv, *extra])
        return CollectorRun(exit_code, capsys.readouterr().err, Path(str(output)))

    return run

"""Fixtures and collection rules shared by the whole test suite."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from importlib.metadata import version
from pathlib import Path

import pytest

from replica_ledger import clock as product_clock
from tooling.emulators import firestore, gcs

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tests of Airflow itself (the DAG files, `dag.test()` months, the backfill commands, the UI
# plugin, the task glue) run on every supported Airflow version; `make test` runs everything
# else once. A module elsewhere opts in with `pytestmark = pytest.mark.airflow`.
AIRFLOW_FOLDERS = ("tests/dags/", "tests/plugins/", "tests/replica_ledger/airflow/")
# Version-independent modules that `make test` runs in the second Airflow version's run (and
# not in the first's): that run has only the Airflow tests and would finish minutes earlier,
# so these balance the two (scripts/test.sh).
SECOND_RUN = (
    "tests/replica_ledger/alerts/test_alerts_end_to_end.py",
    "tests/replica_ledger/test_billing_close.py",
    "tests/replica_ledger/audit/test_audit_load_bigquery.py",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "airflow: touches Airflow; runs on Airflow 2.11 and 3.x")
    config.addinivalue_line("markers", "second_run: version-independent, run by the second Airflow's suite")
    # Two suites (and xdist workers) run at once: each gets its own dbt target and log
    # folders, or they would overwrite each other's manifest and partial-parse file.
    # Subprocesses (Airflow tasks started by the tests) inherit the variables.
    airflow_major = version("apache-airflow").split(".")[0]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    scratch = REPO_ROOT / ".local" / "test-dbt" / f"af{airflow_major}-{worker}"
    os.environ["DBT_TARGET_PATH"] = str(scratch / "target")
    os.environ["DBT_LOG_PATH"] = str(scratch / "logs")


# The slow end-to-end modules, heaviest first. The two modules that read the session's demo
# month are one unit of work for xdist, so that month is built once per `make test`, not once
# per worker. xdist hands out the units in this order, each to the worker free first: the demo
# months go to one, the backfill to the other, the next heaviest after them, and the light
# modules fill in behind (scripts/test.sh keeps this order with --no-loadscope-reorder).
SHARED_DEMO_MONTH = ("tests/dags/test_demo_gcp.py", "tests/dags/test_demo_month.py")
HEAVY_FIRST = (
    *SHARED_DEMO_MONTH,
    "tests/dags/test_backfill.py",
    "tests/dbt/test_bigquery_emulator.py",
    "tests/dags/test_month_story.py",
    "tests/tooling/test_deploy_rehearsal.py",
)


def _relative(item: pytest.Item) -> str:
    return Path(str(item.path)).resolve().relative_to(REPO_ROOT).as_posix()


def _heaviness(item: pytest.Item) -> int:
    relative = _relative(item)
    return HEAVY_FIRST.index(relative) if relative in HEAVY_FIRST else len(HEAVY_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _relative(item).startswith(AIRFLOW_FOLDERS):
            item.add_marker(pytest.mark.airflow)
        if _relative(item) in SECOND_RUN:
            item.add_marker(pytest.mark.second_run)
    # Stable sort: the heavy modules start first, on both workers, and the rest fill in.
    items.sort(key=_heaviness)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadfile` (one module per unit), with the demo month's two readers as one unit.

    A scheduler rather than `--dist loadgroup`: with pytest 9.2 xdist no longer sees the
    xdist_group marks (pytest-xdist issue #1386) and silently spreads a group's tests over
    the workers, so each worker would build the month itself.
    """
    from xdist.scheduler import LoadFileScheduling

    class DemoMonthTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return SHARED_DEMO_MONTH[0] if scope in SHARED_DEMO_MONTH else scope

    return DemoMonthTogether(config, log)


# ----------------------------------------------------------------------------- a warehouse per worker


@pytest.fixture
def worker_warehouse() -> Iterator[Path]:
    """An empty DuckDB warehouse at one path for every test of this pytest process.

    dbt hashes the DuckDB path into its partial-parse check: a warehouse at a new path
    parses the whole project again on its first dbt call, where the same path reads the
    saved parse. Tests that build on DuckDB in-process, one after the other, share the path
    (each starts with an empty folder); a test that needs two warehouses still uses tmp_path.
    """
    folder = Path(os.environ["DBT_TARGET_PATH"]).parent / "warehouse"
    _close_dbt_duckdb()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    yield folder / "warehouse.duckdb"
    _close_dbt_duckdb()


def _close_dbt_duckdb() -> None:
    """Close the DuckDB that dbt-duckdb keeps open in this process between dbt calls.

    It is kept while the profile is unchanged: with the path unchanged, the next test's
    dbt would go on reading and writing the previous test's (deleted) file.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager.close_all_connections()


# ----------------------------------------------------------------------------- GCS and Firestore emulators


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gcs.GcsEmulator]:
    """One fake-gcs-server (in-memory) for the session; tests that need it empty use `empty_gcs`."""
    emulator = gcs.start(log_path=tmp_path_factory.mktemp("gcs_emulator") / "fake-gcs-server.log")
    yield emulator
    emulator.stop()


@pytest.fixture
def empty_gcs(gcs_emulator: gcs.GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> gcs.GcsEmulator:
    """The session's fake-gcs-server with no bucket, and STORAGE_EMULATOR_HOST pointing at it.

    google-cloud-storage's Client() (as the product builds it) then talks to the emulator
    with anonymous credentials; `empty_gcs.client()` does so whatever the environment says.
    """
    gcs_emulator.reset()
    for name, value in gcs_emulator.env().items():
        monkeypatch.setenv(name, value)
    return gcs_emulator


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[firestore.FirestoreEmulator]:
    """One Firestore emulator for the session (its JVM takes seconds to start)."""
    emulator = firestore.start(log_path=tmp_path_factory.mktemp("firestore_emulator") / "firestore.log")
    yield emulator
    emulator.stop()


@pytest.fixture
def empty_firestore(
    firestore_emulator: firestore.FirestoreEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[firestore.FirestoreEmulator]:
    """The session's Firestore emulator, FIRESTORE_EMULATOR_HOST set.

    Seed documents with `empty_firestore.put_document(project, "collection/id", {...})`;
    every project written that way is emptied after the test.
    """
    for name, value in firestore_emulator.env().items():
        monkeypatch.setenv(name, value)
    yield firestore_emulator
    firestore_emulator.reset()


# --------------------------------------------------------------------------- the clock
# The product reads "now" from replica_ledger.clock; the tests set it here, and nowhere else
# (no test computes today when its module is imported). A test's clock starts at noon UTC of
# the suite's current day and advances in real time: no test straddles midnight by accident,
# whatever the hour, and a suite that runs across midnight moves its later tests to the next
# day as a whole (setup and code alike). `--clock-start` starts the suite's clock elsewhere,
# e.g. `--clock-start 2026-12-05T23:59:59Z` to rehearse a run that crosses midnight.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-start",
        default=None,
        help="ISO-8601 instant the suite's clock starts at (default: now); it advances in real time",
    )


class TestClock:
    """One test's clock: callable (what ``replica_ledger.clock.now`` returns), advancing in
    real time from its start; ``set``/``advance`` move it, ``env`` hands it to a subprocess."""

    __test__ = False  # not a test class

    def __init__(self, start: datetime) -> None:
        self.set(start)

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._set_at)

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the test clock takes an aware datetime")
        self._start, self._set_at = moment.astimezone(UTC), time.monotonic()

    def advance(self, delta: timedelta) -> None:
        self.set(self() + delta)

    def now(self) -> datetime:
        return self()

    def today(self) -> date:
        return self().date()

    def env(self) -> dict[str, str]:
        """The variable that starts a subprocess's clock at this clock's now."""
        return {product_clock.NOW_VAR: self().isoformat()}


_suite_clock: TestClock | None = None


def _suite_now(config: pytest.Config) -> datetime:
    global _suite_clock
    if _suite_clock is None:
        raw = config.getoption("--clock-start")
        _suite_clock = TestClock(product_clock.parse_instant(raw) if raw else datetime.now(UTC))
    return _suite_clock()


@pytest.fixture(autouse=True)
def clock(request: pytest.FixtureRequest) -> Iterator[TestClock]:
    """The test's clock, in force for the code under test in this process (see ``TestClock.env``
    for a subprocess)."""
    day = _suite_now(request.config).date()
    test_clock = TestClock(datetime.combine(day, dt_time(12, 0), tzinfo=UTC))
    with product_clock.use(test_clock):
        yield test_clock

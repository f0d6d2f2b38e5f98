"""Fixtures for the alerting tests: a real HTTP server standing in for Slack's webhooks.

Connections are real Airflow connections given through ``AIRFLOW_CONN_<ID>`` env vars
(JSON form, conn_type ``slackwebhook``): ``host`` is ``http://127.0.0.1:<port>/services`` and
``password`` the webhook token, so SlackWebhookHook posts to
``http://127.0.0.1:<port>/services/<token>``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# Airflow is imported lazily by the code under test; give it a private, throw-away home
# (unless the suite already chose one).
if "AIRFLOW_HOME" not in os.environ:
    _home = tempfile.mkdtemp(prefix="replica-ledger-alerts-airflow-")
    os.environ["AIRFLOW_HOME"] = _home
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

TOKENS = {
    "slack_default_webhook": "T0000DEF1/B0000DEF1/defaultSECRETtoken01",
    "slack_payments_webhook": "T0000PAY1/B0000PAY1/paymentsSECRETtoken1",
    "slack_orders_webhook": "T0000ORD1/B0000ORD1/ordersSECRETtoken001",
}


@dataclass
class Received:
    path: str
    body: dict
    at: float  # time.monotonic() when the server read the request
    status: int  # what the server answered


@dataclass
class Scripted:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: str = "ok"
    delay: float = 0.0


class FakeSlack:
    """Records every POST; answers 200 "ok" unless responses were queued with :meth:`queue`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self._script: dict[str, list[Scripted]] = {}
        handler = self._handler_class()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- configuration ------------------------------------------------------------------
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services"

    def conn_json(self, conn_id: str) -> str:
        return json.dumps({"conn_type": "slackwebhook", "host": self.base_url(), "password": TOKENS[conn_id]})

    def path_for(self, conn_id: str) -> str:
        return f"/services/{TOKENS[conn_id]}"

    def queue(self, *responses: Scripted, conn_id: str | None = None) -> None:
        key = self.path_for(conn_id) if conn_id else "*"
        with self._lock:
            self._script.setdefault(key, []).extend(responses)

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self._script.clear()

    # -- inspection ----------------------------------------------------------------------
    def posts(self, conn_id: str | None = None) -> list[Received]:
        """Requests Slack would have accepted (answered 200), optionally for one connection."""
        with self._lock:
            items = list(self.received)
        return [r for r in items if r.status == 200 and (conn_id is None or r.path == self.path_for(conn_id))]

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    # -- server --------------------------------------------------------------------------
    def _next(self, path: str) -> Scripted:
        with self._lock:
            for key in (path, "*"):
                if self._script.get(key):
                    return self._script[key].pop(0)
        return Scripted()

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                at = time.monotonic()
                reply = fake._next(self.path)
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with fake._lock:
                    fake.received.append(Received(self.path, body, at, reply.status))
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format, *args):
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def _fake_slack_server():
    server = FakeSlack()
    yield server
    server.close()


@pytest.fixture
def slack(_fake_slack_server, monkeypatch) -> FakeSlack:
    """The fake Slack, reset, with the three demo connections configured as env vars."""
    _fake_slack_server.reset()
    for conn_id in TOKENS:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", _fake_slack_server.conn_json(conn_id))
    yield _fake_slack_server
    _fake_slack_server.reset()


@pytest.fixture
def no_slack_connections(monkeypatch):
    for conn_id in TOKENS:
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)


@pytest.fixture
def routes_csv() -> Path:
    return Path(__file__).resolve().parents[3] / "dbt_project" / "seeds" / "team_slack_routes.csv"


@pytest.fixture
def duckdb_ledger(tmp_path):
    from replica_ledger.warehouse.duckdb import DuckDBAlertLog

    return DuckDBAlertLog(tmp_path / "warehouse.duckdb")


def secrets_in(text: str) -> list[str]:
    """Which tokens/URLs appear in ``text``."""
    found = []
    for token in TOKENS.values():
        for needle in (token, token.split("/")[-1]):
            if needle in text:
                found.append(needle)
    return found


TODAY = date(2024, 5, 4)
SNAPSHOT_DAY = date(2024, 5, 3)


class AllLogs:
    """Everything logged during a test: stdlib logging (caplog, at DEBUG) and whatever went to
    stdout/stderr (Airflow 3 logs through structlog, which caplog does not see)."""

    def __init__(self, caplog, capfd) -> None:
        self._caplog = caplog
        self._capfd = capfd
        self._out = ""

    @property
    def text(self) -> str:
        out, err = self._capfd.readouterr()
        self._out += out + err
        return self._caplog.text + "\n" + self._out


@pytest.fixture
def all_logs(caplog, capfd) -> AllLogs:
    caplog.set_level(logging.DEBUG)
    return AllLogs(caplog, capfd)

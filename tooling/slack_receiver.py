"""A local stand-in for Slack's Incoming Webhooks: real HTTP on 127.0.0.1.

It answers every POST like Slack does on success (HTTP 200, body ``ok``) and writes the
request body it got to ``<folder>/<n>.json`` (n = 1, 2, ... in arrival order), so a
demo can show exactly what Slack would have received. Airflow reaches it through a
``slackwebhook`` connection whose host is :meth:`SlackReceiver.base_url`::

    with SlackReceiver(Path(".local/slack-received")) as receiver:
        os.environ["AIRFLOW_CONN_SLACK_DEFAULT_WEBHOOK"] = receiver.connection_json("T0/B0/local")
        ...
        receiver.received_files()

Run it by hand: python -m tooling.slack_receiver --folder .local/slack-received
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LOOPBACK = "127.0.0.1"


class SlackReceiver:
    """The receiver; a context manager serving on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._count = 0
        self._server = ThreadingHTTPServer((LOOPBACK, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-receiver", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def base_url(self) -> str:
        """What a slackwebhook connection's host is set to; the token (password) is appended as the path."""
        return f"http://{LOOPBACK}:{self.port}/services"

    def connection_json(self, token: str) -> str:
        """An Airflow connection (AIRFLOW_CONN_<ID> value) that posts here."""
        return json.dumps({"conn_type": "slackwebhook", "host": self.base_url(), "password": token})

    def start(self) -> SlackReceiver:
        # Start from an empty folder: the numbers say how many messages this run delivered.
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.json"):
            old.unlink()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlackReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def received_files(self) -> list[Path]:
        return sorted(self.folder.glob("*.json"), key=lambda path: int(path.stem))

    def _store(self, body: bytes) -> Path:
        with self._lock:
            self._count += 1
            path = self.folder / f"{self._count}.json"
            path.write_bytes(body)
        return path

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver._store(self.rfile.read(length))
                reply = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=Path(".local/slack-received"))
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with SlackReceiver(args.folder, args.port) as receiver:
        print(f"Slack webhook receiver on {receiver.base_url()}/<token>, bodies in {args.folder}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line of the collector (CONTRACT.md section 4).

    python -m replica_ledger.collector --cluster NAME --output DIR_OR_GS_URL \\
        [--kubeconfig PATH] [--context NAME] [--date YYYY-MM-DD]

Exit status (errors.py): 0 written; 1 a transient fault outlasted the retries, or a write or
upload error; 2 bad arguments or settings; 3 access denied (401/403: fix RBAC or
credentials); 4 permanent fault, reported after one try (kubeconfig, server URL, TLS or
protocol mismatch, 404); 5 the deadline ran out. Errors are one line on stderr (the last
one), progress is logged to stderr.

Environment (all optional; see settings.py):
    REPLICA_LEDGER_COLLECTOR_DEADLINE_SECONDS  whole capture: listing, retries, writing, upload (300)
    REPLICA_LEDGER_COLLECTOR_GZIP=1            write <cluster>.json.gz locally (always for gs://)
    REPLICA_LEDGER_COLLECTOR_PAGE_SIZE         items per list page (500)
    REPLICA_LEDGER_COLLECTOR_CONNECT_TIMEOUT   seconds (10)
    REPLICA_LEDGER_COLLECTOR_READ_TIMEOUT      seconds per socket read (30)
    REPLICA_LEDGER_COLLECTOR_MAX_RETRIES       retries per page on 429/5xx/timeouts/refused (5)
    REPLICA_LEDGER_COLLECTOR_MAX_TIMEOUTS      timeouts in a row per page before giving up (2)
    REPLICA_LEDGER_COLLECTOR_BACKOFF_BASE      first backoff, doubling per retry (1)
    REPLICA_LEDGER_COLLECTOR_BACKOFF_CAP       longest backoff (30)
    REPLICA_LEDGER_COLLECTOR_MAX_RETRY_AFTER   longest Retry-After honoured (120)
    REPLICA_LEDGER_COLLECTOR_MAX_LIST_RESTARTS fresh lists after 410 Gone, per resource (3)
"""

from __future__ import annotations

import argparse
import gc
import logging
import re
import sys
import time
from collections.abc import Sequence
from datetime import date

from replica_ledger import clock
from replica_ledger.collector.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CollectorError

log = logging.getLogger("replica_ledger.collector")

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _snapshot_date(text: str) -> date:
    # date.fromisoformat alone would also accept 20261011 and week dates.
    if not _ISO_DATE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def _cluster_name(text: str) -> str:
    from replica_ledger.collector.collect import validate_cluster_name

    try:
        return validate_cluster_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m replica_ledger.collector",
        description="Snapshot the Deployments and HPAs of one cluster into the replica-ledger archive.",
    )
    parser.add_argument("--cluster", required=True, type=_cluster_name, help="cluster name; the file name")
    parser.add_argument("--output", required=True, help="archive root: a folder or gs://BUCKET[/PREFIX]")
    parser.add_argument("--kubeconfig", help="kubeconfig file; without it, the in-cluster service account")
    parser.add_argument("--context", help="kubeconfig context (default: its current-context)")
    parser.add_argument(
        "--date",
        type=_snapshot_date,
        help="snapshot day dt=YYYY-MM-DD (default: the UTC day before the capture's UTC day); "
        "must be that day: a day that has not ended, or one further back, is refused",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    started_at = time.monotonic()  # the deadline counts from here, Kubernetes client import included
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.context and not args.kubeconfig:
        parser.print_usage(sys.stderr)
        print("error: --context needs --kubeconfig", file=sys.stderr)
        return EXIT_USAGE
    if args.date is not None:
        from replica_ledger.collector.settings import snapshot_date_problem

        problem = snapshot_date_problem(args.date, clock.now())
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return EXIT_USAGE

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return _collect(args, started_at)
    except CollectorError as exc:
        print(exc.message, file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        # A fault nobody foresaw: the traceback for whoever fixes it, still one line last.
        log.exception("unexpected failure")
        print(" ".join(f"unexpected failure: {type(exc).__name__}: {exc}".split()), file=sys.stderr)
        return EXIT_FAILURE


def _collect(args: argparse.Namespace, started_at: float) -> int:
    from replica_ledger.collector.settings import CollectorSettings
    from replica_ledger.http_retry import Deadline

    settings = CollectorSettings.from_env()
    deadline = Deadline(settings.deadline_s - (time.monotonic() - started_at))
    # Imported here so `--help` and argument errors do not pay for the Kubernetes client.
    from replica_ledger.collector.collect import SnapshotRequest, collect_snapshot

    # The Kubernetes client leaves some 10^5 long-lived objects behind at import; parsing
    # pages allocates millions more, and every full collection would walk the former again.
    # Freezing them cuts parsing CPU by about a third (the pages hold no reference cycles).
    gc.freeze()
    try:
        request = SnapshotRequest(
            cluster=args.cluster,
            output=args.output,
            kubeconfig=args.kubeconfig,
            context=args.context,
            snapshot_date=args.date,
        )
        result = collect_snapshot(request, settings, deadline=deadline)
    finally:
        gc.unfreeze()  # main() may run inside a longer-lived process (tests, a worker)
    counts = ", ".join(f"{count} {name}" for name, count in result.item_counts.items())
    log.info("wrote %s (%s) and %s", result.data_url, counts, result.meta_url)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

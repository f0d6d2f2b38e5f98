"""``python -m replica_ledger.ped``: validate PED files and record approved changes.

Exit codes: 0 every file accepted or a no-op; 2 a file (or an argument) is invalid;
3 a change conflicts with a row already recorded under its change_id (nothing written);
1 the change log or Firestore could not be used. With several files the highest applies.
Per-file messages go to stdout (errors to stderr); the last stdout line is a summary,
``summary: accepted=N no-op=N rejected=N``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime

from replica_ledger.changelog import ChangeError
from replica_ledger.ped.document import PedDocument, PedValidationError, parse_yaml, read_file, validate_data
from replica_ledger.ped.messages import fmt_number
from replica_ledger.ped.record import Change, build_change
from replica_ledger.ped.schema import API_VERSION, KIND, Limits, PedConfigError, ped_schema

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INVALID = 2
EXIT_CONFLICT = 3


def _bounds(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("resource bounds (default: env REPLICA_LEDGER_PED_*, else built in)")
    group.add_argument("--cpu-min", type=float, help="lowest vCPU per pod (default 0.1)")
    group.add_argument("--cpu-max", type=float, help="highest vCPU per pod (default 16)")
    group.add_argument("--memory-gb-min", type=float, help="lowest memory per pod, GB (default 0.1)")
    group.add_argument("--memory-gb-max", type=float, help="highest memory per pod, GB (default 64)")


def _change_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", required=True, metavar="DEST", help="JSON Lines path or bq://project.dataset.table")
    parser.add_argument("--change-id", help="default: <$GITHUB_SHA>:<namespace>/<deployment>, else a content hash")
    parser.add_argument("--changed-at", metavar="RFC3339", help="when the approval takes effect (default: now, UTC)")
    parser.add_argument("--changed-by", metavar="WHO", help="who approved it (default: $GITHUB_ACTOR, else unknown)")
    parser.add_argument(
        "--create-table", action="store_true", help="BigQuery: create the table first if it does not exist"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m replica_ledger.ped",
        description="Validate PED files and record approved limit changes.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check PED files, write nothing")
    validate.add_argument("files", nargs="+", metavar="FILE")
    _bounds(validate)

    record = commands.add_parser("record", help="validate PED files and append their changes to the log")
    record.add_argument("files", nargs="+", metavar="FILE")
    _change_options(record)
    _bounds(record)

    delete = commands.add_parser("delete", help="record that an API is decommissioned")
    delete.add_argument("file", nargs="?", metavar="FILE", help="the API's PED file (its metadata names the API)")
    delete.add_argument("--namespace", help="instead of FILE: the API's namespace")
    delete.add_argument("--deployment", help="instead of FILE: the API's Deployment name")
    delete.add_argument("--team", help="with --namespace/--deployment: the owning team (default: the namespace)")
    delete.add_argument("--reason", help="why (default: the file's reason if it is a delete already)")
    _change_options(delete)
    _bounds(delete)

    firestore = commands.add_parser("firestore-sync", help="append changes from a Firestore PED collection")
    firestore.add_argument("--project", required=True)
    firestore.add_argument("--collection", required=True)
    firestore.add_argument("--database", default="(default)")
    firestore.add_argument("--log", required=True, metavar="DEST")
    firestore.add_argument(
        "--endpoint",
        help="Firestore base URL (default: http://$FIRESTORE_EMULATOR_HOST if set, else production)",
    )
    firestore.add_argument("--anonymous", action="store_true", help="no Google credentials (emulators)")
    firestore.add_argument("--page-size", type=int, default=300)
    firestore.add_argument("--create-table", action="store_true")
    _bounds(firestore)

    schema = commands.add_parser("schema", help="print the PED document's JSON Schema")
    _bounds(schema)
    return parser


class Run:
    """Counts and output of one command."""

    def __init__(self, out=None, err=None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.accepted = self.noop = self.rejected = 0
        self.code = EXIT_OK

    def say(self, text: str) -> None:
        print(text, file=self.out)

    def complain(self, text: str) -> None:
        print(text, file=self.err)

    def fail(self, code: int) -> None:
        self.rejected += 1
        self.code = max(self.code, code)

    def summary(self) -> int:
        self.say(f"summary: accepted={self.accepted} no-op={self.noop} rejected={self.rejected}")
        return self.code


def _describe(document: PedDocument) -> str:
    if document.action == "delete":
        return f"{document.namespace}/{document.deployment} delete (team {document.team})"
    return (
        f"{document.namespace}/{document.deployment} upsert (team {document.team}): replicas "
        f"{document.min_replicas}..{document.max_replicas}, cpu {fmt_number(document.cpu)}, "
        f"memory {fmt_number(document.memory_gb)} GB"
    )


def _load(path: str, limits: Limits, *, force_delete: bool = False, reason: str | None = None):
    """(document, errors) for one file; with force_delete, its metadata names the API to delete."""
    try:
        data = parse_yaml(read_file(path))
    except PedValidationError as exc:
        return None, exc.errors
    if force_delete and isinstance(data, dict):
        if data.get("action") != "delete":
            data.pop("reason", None)
        data["action"] = "delete"
        if reason is not None:
            data["reason"] = reason
    return validate_data(data, limits)


def _open_log(args, run: Run, bigquery_client):
    from replica_ledger.ped.destination import open_log

    try:
        log = open_log(args.log, bigquery_client=bigquery_client)
    except ValueError as exc:
        run.complain(f"error: {exc}")
        return None
    if getattr(args, "create_table", False):
        if not hasattr(log, "create_table"):
            run.complain("error: --create-table applies to a bq:// log only")
            return None
        log.create_table()
    return log


def _record(run: Run, log, change: Change, label: str) -> None:
    from replica_ledger.ped.backend import ACCEPTED, NOOP

    outcome = log.append(change)
    if outcome.status == ACCEPTED:
        run.accepted += 1
        run.say(f"{label}: {outcome.message}")
    elif outcome.status == NOOP:
        run.noop += 1
        run.say(f"{label}: {outcome.message}")
    else:
        run.fail(EXIT_CONFLICT)
        run.complain(f"{label}: {outcome.message}")


def _change_kwargs(args, env, now) -> dict:
    return {
        "change_id": args.change_id,
        "changed_at": args.changed_at,
        "changed_by": args.changed_by,
        "env": env,
        "now": now,
    }


def _load_or_complain(path, limits: Limits, run: Run):
    """The valid document at ``path``, or None after reporting each of its errors."""
    document, errors = _load(path, limits)
    if errors:
        run.fail(EXIT_INVALID)
        for error in errors:
            run.complain(f"{path}: {error}")
        return None
    return document


def _cmd_validate(args, run: Run, limits: Limits) -> int:
    valid = 0
    for path in args.files:
        document = _load_or_complain(path, limits, run)
        if document is not None:
            valid += 1
            run.say(f"{path}: ok: {_describe(document)}")
    run.say(f"summary: valid={valid} invalid={run.rejected}")
    return run.code


def _cmd_record(args, run: Run, limits: Limits, env, now, bigquery_client) -> int:
    if args.change_id is not None and len(args.files) > 1:
        run.complain(f"error: --change-id names one change; got {len(args.files)} files")
        return EXIT_INVALID
    prepared = []
    for path in args.files:
        document = _load_or_complain(path, limits, run)
        if document is None:
            continue
        try:
            prepared.append((path, build_change(document, **_change_kwargs(args, env, now))))
        except ChangeError as exc:
            run.complain(f"error: {exc}")
            return EXIT_INVALID
    if prepared:
        log = _open_log(args, run, bigquery_client)
        if log is None:
            return EXIT_INVALID
        for path, change in prepared:
            _record(run, log, change, path)
    return run.summary()


_FLAG_FOR = {
    "metadata.namespace": "--namespace",
    "metadata.name": "--deployment",
    "metadata.team": "--team",
    "reason": "--reason",
}


def _cmd_delete(args, run: Run, limits: Limits, env, now, bigquery_client) -> int:
    by_flags = args.namespace is not None or args.deployment is not None
    if by_flags == (args.file is not None) or (by_flags and None in (args.namespace, args.deployment)):
        run.complain("error: give either FILE or both --namespace and --deployment")
        return EXIT_INVALID
    if args.file is not None:
        if args.team is not None:
            run.complain("error: --team applies with --namespace/--deployment; the file names the team")
            return EXIT_INVALID
        label = args.file
        document, errors = _load(args.file, limits, force_delete=True, reason=args.reason)
    else:
        label = f"{args.namespace}/{args.deployment}"
        metadata = {"namespace": args.namespace, "name": args.deployment}
        if args.team is not None:
            metadata["team"] = args.team
        data = {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "action": "delete"}
        if args.reason is not None:
            data["reason"] = args.reason
        document, errors = validate_data(data, limits)
        errors = [_flag_error(error) for error in errors]
    if errors:
        run.fail(EXIT_INVALID)
        for error in errors:
            run.complain(f"{label}: {error}")
        return run.summary()
    try:
        change = build_change(document, **_change_kwargs(args, env, now))
    except ChangeError as exc:
        run.complain(f"error: {exc}")
        return EXIT_INVALID
    log = _open_log(args, run, bigquery_client)
    if log is None:
        return EXIT_INVALID
    _record(run, log, change, label)
    return run.summary()


def _flag_error(error: str) -> str:
    path, _, message = error.partition(": ")
    return f"{_FLAG_FOR.get(path, path)}: {message}"


def _cmd_firestore(args, run: Run, limits: Limits, env, bigquery_client, firestore_session) -> int:
    from replica_ledger.ped.firestore import list_documents, make_session, sync

    if firestore_session is not None:
        endpoint, session = firestore_session
    else:
        endpoint, session = make_session(args.endpoint, args.anonymous, env)
    log = _open_log(args, run, bigquery_client)
    if log is None:
        return EXIT_INVALID
    documents = list_documents(
        session, endpoint, args.project, args.collection, database=args.database, page_size=args.page_size
    )
    report = sync(list(documents), args.collection, log, limits)
    for message in report.messages:
        (run.complain if message.startswith(("rejected", "conflict")) else run.say)(message)
    for warning in report.warnings:
        run.complain(warning)
    run.accepted, run.noop, run.rejected = len(report.accepted), len(report.noop), len(report.rejected)
    if report.rejected:
        run.code = EXIT_INVALID
    return run.summary()


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    bigquery_client=None,
    firestore_session=None,
    out=None,
    err=None,
) -> int:
    """Run the CLI. The keyword arguments are for embedding and tests (clients, clock, env)."""
    import os

    args = build_parser().parse_args(argv)
    env = os.environ if env is None else env
    run = Run(out, err)
    try:
        limits = Limits.from_env(
            env,
            cpu_min=args.cpu_min,
            cpu_max=args.cpu_max,
            memory_gb_min=args.memory_gb_min,
            memory_gb_max=args.memory_gb_max,
        )
    except PedConfigError as exc:
        run.complain(f"error: resource bounds: {exc}")
        return EXIT_INVALID
    from replica_ledger.settings import known_variables, unknown_variable_problem

    problem = unknown_variable_problem(env, known_variables())
    if problem:  # e.g. REPLICA_LEDGER_PED_CPU_MAXX: the bound would be ignored silently
        run.complain(f"error: {problem}")
        return EXIT_INVALID
    try:
        if args.command == "schema":
            run.say(json.dumps(ped_schema(limits), indent=2))
            return EXIT_OK
        if args.command == "validate":
            return _cmd_validate(args, run, limits)
        if args.command == "record":
            return _cmd_record(args, run, limits, env, now, bigquery_client)
        if args.command == "delete":
            return _cmd_delete(args, run, limits, env, now, bigquery_client)
        return _cmd_firestore(args, run, limits, env, bigquery_client, firestore_session)
    except Exception as exc:  # the log or Firestore failed: report, count, exit 1
        run.complain(f"error: {type(exc).__name__}: {exc}")
        run.code = EXIT_ERROR
        if args.command in ("record", "delete", "firestore-sync"):
            run.summary()
        return EXIT_ERROR

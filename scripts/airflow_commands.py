"""Run several `airflow` CLI commands in one interpreter, in order; stop at the first failure.

    python scripts/airflow_commands.py "db migrate" "dags unpause replica_ledger_daily"

Each `airflow` process spends seconds importing Airflow before it does anything (tens of
seconds on a busy 2-core machine), and `make backfill` runs five commands before its first
run starts. Here they share one import. Each command goes through Airflow's own parser and
handler, as `airflow <command>` does (airflow/__main__.py), on Airflow 2.11 and 3.x.
"""

from __future__ import annotations

import shlex
import sys


def run(commands: list[str]) -> None:
    # airflow.configuration first, as airflow/__main__.py does (import cycles otherwise).
    from airflow import configuration  # noqa: F401
    from airflow.cli import cli_parser
    from airflow.configuration import write_default_airflow_configuration_if_needed

    write_default_airflow_configuration_if_needed()
    parser = cli_parser.get_parser()
    for command in commands:
        print(f"[airflow_commands] airflow {command}", flush=True)
        args = parser.parse_args(shlex.split(command))
        args.func(args)


def main(argv: list[str] | None = None) -> int:
    commands = sys.argv[1:] if argv is None else argv
    if not commands:
        print(__doc__, file=sys.stderr)
        return 2
    run(commands)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

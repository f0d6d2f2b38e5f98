"""`make policies`: the current approved limits of the local warehouse as a policy folder.

    python -m replica_ledger.policies [--day YYYY-MM-DD]

Writes REPLICA_LEDGER_POLICY_DIR/dt=DAY/ (DAY: today by the product's clock) and prints it.
"""

from __future__ import annotations

import argparse
from datetime import date

from replica_ledger import clock
from replica_ledger.command import settings_for_command
from replica_ledger.policies.generate import write_policies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day", type=date.fromisoformat, default=None, help="the folder's day (default: today)")
    args = parser.parse_args(argv)
    settings = settings_for_command()
    summary = write_policies(settings, args.day or clock.today(), current=True)
    print(
        f"{summary['limits']} approved limits in {summary['namespaces']} namespaces,"
        f" {len(summary['clusters'])} clusters, validationActions {', '.join(summary['validation_actions'])}"
    )
    print(summary["folder"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

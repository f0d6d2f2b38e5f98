"""`make policies`: the current approved limits of the local warehouse as a policy folder.

    python -m replica_ledger.policies [--day YYYY-MM-DD]
    python -m replica_ledger.policies --show --day YYYY-MM-DD   (a local day folder's approved max per API)

Writes REPLICA_LEDGER_POLICY_DIR/dt=DAY/ (DAY: today by the product's clock) and prints it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import yaml

from replica_ledger import clock
from replica_ledger.command import settings_for_command
from replica_ledger.policies import folder
from replica_ledger.policies.generate import write_policies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day", type=date.fromisoformat, default=None, help="the folder's day (default: today)")
    parser.add_argument("--show", action="store_true", help="print a local day folder's ConfigMaps, write nothing")
    args = parser.parse_args(argv)
    settings = settings_for_command()
    if args.show:
        return show(Path(settings.policy_dir), args.day or clock.today())
    summary = write_policies(settings, args.day or clock.today(), current=True)
    print(
        f"{summary['limits']} approved limits in {summary['namespaces']} namespaces,"
        f" {len(summary['clusters'])} clusters, validationActions {', '.join(summary['validation_actions'])}"
    )
    print(summary["folder"])
    return 0


def show(root: Path, day: date) -> int:
    """One line per API of the day's ConfigMaps: `namespace/deployment  max N`."""
    path = root / folder.day_folder(day) / folder.CONFIG_MAPS
    if not path.is_file():
        print(f"error: no policy folder for {day} under {root}", file=sys.stderr)
        return 2
    for config_map in yaml.safe_load_all(path.read_bytes()):
        for deployment, approved in sorted((config_map.get("data") or {}).items()):
            print(f"{config_map['metadata']['namespace']}/{deployment}  max {approved}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Generate the dbt docs (the lineage the data-platform team browses) into a folder.

`python -m replica_ledger.docs` runs `dbt docs generate` and copies the static site
(index.html, manifest.json, catalog.json) to REPLICA_LEDGER_DBT_DOCS_DIR.
"""

from __future__ import annotations

import argparse
import shutil

from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.settings import Settings, load_settings

DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def generate_docs(settings: Settings) -> dict:
    target = settings.dbt_docs_dir.parent / "dbt_docs_target"
    run_dbt(settings, ["docs", "generate", "--target-path", str(target), "--vars", build_vars(settings)])
    settings.dbt_docs_dir.mkdir(parents=True, exist_ok=True)
    for name in DOCS_FILES:
        shutil.copy2(target / name, settings.dbt_docs_dir / name)
    return {"docs_dir": str(settings.dbt_docs_dir), "files": list(DOCS_FILES)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quiet", action="store_true", help="print only where the docs are")
    args = parser.parse_args(argv)
    if args.quiet:
        import logging

        logging.getLogger("dbt").setLevel(logging.ERROR)
    result = generate_docs(load_settings())
    print(f"dbt docs written to {result['docs_dir']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

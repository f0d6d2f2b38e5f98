"""Generate the dbt docs (the lineage the data-platform team browses) and publish them.

`python -m replica_ledger.docs` runs `dbt docs generate` and copies the static site
(index.html, manifest.json, catalog.json) to REPLICA_LEDGER_DBT_DOCS_DIR. When
REPLICA_LEDGER_DOCS_GCS_URL is set (production: `gs://<composer bucket>/dbt_docs`), the
same three files are uploaded there too; the Airflow UI serves them through Cosmos's dbt
docs plugin (`[cosmos] dbt_docs_dir` on 2.11, `[cosmos] dbt_docs_projects` on 3.x).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from replica_ledger.command import settings_for_command
from replica_ledger.dbt_runner import build_vars, run_dbt
from replica_ledger.settings import DOCS_GCS_URL_VAR, Settings, load_settings

DOCS_FILES = ("index.html", "manifest.json", "catalog.json")
GCS_SCHEME = "gs://"
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json"}
_UPLOAD_TIMEOUT_S = 120.0


def generate_docs(settings: Settings) -> dict:
    target = settings.dbt_docs_dir.parent / "dbt_docs_target"
    run_dbt(settings, ["docs", "generate", "--target-path", str(target), "--vars", build_vars(settings)])
    settings.dbt_docs_dir.mkdir(parents=True, exist_ok=True)
    for name in DOCS_FILES:
        shutil.copy2(target / name, settings.dbt_docs_dir / name)
    return {"docs_dir": str(settings.dbt_docs_dir), "files": list(DOCS_FILES)}


def split_gcs_url(url: str) -> tuple[str, str]:
    """gs://bucket/some/prefix -> ("bucket", "some/prefix")."""
    if not url.startswith(GCS_SCHEME):
        raise ValueError(f"{DOCS_GCS_URL_VAR}={url!r} is not a gs://BUCKET[/PREFIX] URL")
    bucket, _, prefix = url.removeprefix(GCS_SCHEME).partition("/")
    if not bucket:
        raise ValueError(f"{DOCS_GCS_URL_VAR}={url!r} names no bucket")
    return bucket, prefix.strip("/")


def publish_docs_to_gcs(docs_dir: Path, url: str, client=None) -> list[str]:
    """Upload the docs files of `docs_dir` to gs://bucket/prefix/; returns the object URLs.

    manifest.json and catalog.json go first and index.html last, so a reader never gets a
    new index.html with the previous run's artifacts missing.
    """
    from google.api_core.retry import Retry
    from google.cloud import storage  # run time only: keeps DAG parsing cheap

    bucket_name, prefix = split_gcs_url(url)
    bucket = (client or storage.Client()).bucket(bucket_name)
    retry = Retry(initial=1.0, maximum=30.0, multiplier=2.0, timeout=300.0)
    urls = []
    for name in sorted(DOCS_FILES, key=lambda n: n == "index.html"):
        object_name = f"{prefix}/{name}" if prefix else name
        blob = bucket.blob(object_name)
        # Docs change on every run; never let a cache serve yesterday's lineage.
        blob.cache_control = "no-cache, max-age=0"
        blob.upload_from_filename(
            str(docs_dir / name),
            content_type=_CONTENT_TYPES[Path(name).suffix],
            retry=retry,
            timeout=_UPLOAD_TIMEOUT_S,
        )
        urls.append(f"{GCS_SCHEME}{bucket_name}/{object_name}")
    return urls


def generate_and_publish(settings: Settings | None = None, gcs_url: str | None = None) -> dict:
    """The pipeline's docs step: generate into the docs folder, then publish to GCS if set.

    The DAG calls this after `dbt build`, as its own task downstream of the transform group,
    so that a failure here never hides the day's alerts.
    """
    settings = settings or load_settings()
    result = generate_docs(settings)
    gcs_url = gcs_url if gcs_url is not None else settings.docs_gcs_url
    if gcs_url:
        from replica_ledger.warehouse.google import storage_client  # the Airflow connection's credentials

        result["published"] = publish_docs_to_gcs(settings.dbt_docs_dir, gcs_url, storage_client(settings))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quiet", action="store_true", help="print only where the docs are")
    parser.add_argument(
        "--gcs-url",
        default=None,
        help=f"also upload the docs to gs://BUCKET/PREFIX (default: ${DOCS_GCS_URL_VAR}, if set)",
    )
    args = parser.parse_args(argv)
    if args.quiet:
        import logging

        logging.getLogger("dbt").setLevel(logging.ERROR)
    result = generate_and_publish(settings_for_command(warehouse=True), args.gcs_url)
    print(f"dbt docs written to {result['docs_dir']}")
    for url in result.get("published", []):
        print(f"published {url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""replica_ledger.docs publishes the dbt docs to gs://BUCKET/PREFIX (production), through the
real google-cloud-storage client against fake-gcs-server on 127.0.0.1 (the `empty_gcs` fixture)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from replica_ledger import docs
from replica_ledger.settings import DOCS_GCS_URL_VAR, load_settings


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "dbt_docs"
    folder.mkdir()
    (folder / "index.html").write_text("<html><head></head><body>dbt docs</body></html>")
    (folder / "manifest.json").write_text('{"nodes": {}}')
    (folder / "catalog.json").write_text('{"nodes": {}}')
    return folder


def test_publish_uploads_the_three_files_index_last(docs_dir: Path, empty_gcs):
    empty_gcs.create_bucket("composer-bucket")
    urls = docs.publish_docs_to_gcs(docs_dir, "gs://composer-bucket/dbt_docs/")
    assert urls == [
        "gs://composer-bucket/dbt_docs/manifest.json",
        "gs://composer-bucket/dbt_docs/catalog.json",
        "gs://composer-bucket/dbt_docs/index.html",
    ]
    # Generations are the emulator's microsecond clock at upload: their order is the upload order.
    stored = sorted(empty_gcs.client().list_blobs("composer-bucket"), key=lambda blob: blob.generation)
    assert [f"gs://composer-bucket/{blob.name}" for blob in stored] == urls
    manifest, _, index = stored
    assert index.download_as_bytes() == (docs_dir / "index.html").read_bytes()
    assert index.content_type.startswith("text/html")
    assert manifest.content_type == "application/json"
    assert manifest.download_as_bytes() == (docs_dir / "manifest.json").read_bytes()
    assert {blob.cache_control for blob in stored} == {"no-cache, max-age=0"}


def test_publish_through_an_explicit_client_ignores_the_environment(docs_dir: Path, empty_gcs, monkeypatch):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    empty_gcs.create_bucket("docs-bucket")
    urls = docs.publish_docs_to_gcs(docs_dir, "gs://docs-bucket", client=empty_gcs.client())
    assert urls == ["gs://docs-bucket/manifest.json", "gs://docs-bucket/catalog.json", "gs://docs-bucket/index.html"]
    assert sorted(blob.name for blob in empty_gcs.client().list_blobs("docs-bucket")) == [
        "catalog.json",
        "index.html",
        "manifest.json",
    ]


def test_generate_and_publish_reads_the_url_from_the_environment(docs_dir: Path, empty_gcs, monkeypatch):
    generated = []
    monkeypatch.setattr(docs, "generate_docs", lambda s: generated.append(s) or {"docs_dir": str(docs_dir)})
    bucket = empty_gcs.create_bucket("docs-bucket")
    monkeypatch.setenv(DOCS_GCS_URL_VAR, "gs://docs-bucket")
    settings = replace(load_settings(), dbt_docs_dir=docs_dir)
    result = docs.generate_and_publish(settings)
    assert bucket.get_blob("index.html") is not None
    assert generated == [settings]
    assert result["published"][-1] == "gs://docs-bucket/index.html"
    assert "published" not in docs.generate_and_publish(replace(settings, docs_gcs_url=""))


@pytest.mark.parametrize("url", ["s3://bucket/x", "gs://", "/local/path"])
def test_rejects_what_is_not_a_gcs_url(url):
    with pytest.raises(ValueError):
        docs.split_gcs_url(url)

"""replica_ledger.docs publishes the dbt docs to gs://BUCKET/PREFIX (production), through the
real google-cloud-storage client against the fake GCS endpoint on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from replica_ledger import docs
from tests.support.fake_gcs import FakeGcs


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "dbt_docs"
    folder.mkdir()
    (folder / "index.html").write_text("<html><head></head><body>dbt docs</body></html>")
    (folder / "manifest.json").write_text('{"nodes": {}}')
    (folder / "catalog.json").write_text('{"nodes": {}}')
    return folder


def test_publish_uploads_the_three_files_index_last(docs_dir: Path, monkeypatch):
    with FakeGcs() as gcs:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
        urls = docs.publish_docs_to_gcs(docs_dir, "gs://composer-bucket/dbt_docs/")
        stored = dict(gcs.objects)
    assert urls == [
        "gs://composer-bucket/dbt_docs/manifest.json",
        "gs://composer-bucket/dbt_docs/catalog.json",
        "gs://composer-bucket/dbt_docs/index.html",
    ]
    index = stored["composer-bucket", "dbt_docs/index.html"]
    assert index.data == (docs_dir / "index.html").read_bytes()
    assert index.content_type.startswith("text/html")
    assert stored["composer-bucket", "dbt_docs/manifest.json"].content_type == "application/json"


def test_generate_and_publish_reads_the_url_from_the_environment(docs_dir: Path, monkeypatch):
    generated = []
    monkeypatch.setattr(docs, "generate_docs", lambda s: generated.append(s) or {"docs_dir": str(docs_dir)})
    settings = type("S", (), {"dbt_docs_dir": docs_dir})()
    with FakeGcs() as gcs:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
        monkeypatch.setenv(docs.DOCS_GCS_URL_ENV, "gs://b")
        result = docs.generate_and_publish(settings)
        assert ("b", "index.html") in gcs.objects
    assert generated == [settings]
    assert result["published"][-1] == "gs://b/index.html"
    monkeypatch.delenv(docs.DOCS_GCS_URL_ENV)
    assert "published" not in docs.generate_and_publish(settings)


@pytest.mark.parametrize("url", ["s3://bucket/x", "gs://", "/local/path"])
def test_rejects_what_is_not_a_gcs_url(url):
    with pytest.raises(ValueError):
        docs.split_gcs_url(url)

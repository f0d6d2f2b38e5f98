"""The BigQuery side of the production load: one WRITE_TRUNCATE load job per raw table into
the day's partition (no network: the client records what it is given)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from replica_ledger.raw.record import LOAD_RECORD
from replica_ledger.raw.schema import DAY_TABLES, RAW_TABLES
from replica_ledger.settings import load_settings
from replica_ledger.warehouse.bigquery import RawDataset, load_day_files, load_job_config
from tests.replica_ledger.gcp.rendering import GCP_ENV, PROJECT, SNAPSHOT_DAY


@pytest.mark.parametrize("table", DAY_TABLES)
def test_load_job_replaces_the_day_partition(table):
    raw = RawDataset.of(load_settings(GCP_ENV))
    assert raw.partition(table, SNAPSHOT_DAY) == f"{PROJECT}.ledger_raw.{table}$20261011"
    load = load_job_config(table).to_api_repr()["load"]
    assert load["writeDisposition"] == "WRITE_TRUNCATE"
    assert load["createDisposition"] == "CREATE_IF_NEEDED"
    assert load["timePartitioning"] == {"type": "DAY", "field": "snapshot_date"}
    assert load["sourceFormat"] == "NEWLINE_DELIMITED_JSON"
    if table == LOAD_RECORD:  # one row per day: nothing to cluster
        assert "clustering" not in load
    else:
        assert load["clustering"]["fields"][0] == "cluster"
    assert load["maxBadRecords"] == 0 and load["ignoreUnknownValues"] is False
    assert [field["name"] for field in load["schema"]["fields"]] == list(RAW_TABLES[table])
    assert {field["type"] for field in load["schema"]["fields"]} <= {
        "DATE",
        "STRING",
        "TIMESTAMP",
        "INTEGER",
        "BOOLEAN",
    }


def test_only_day_tables_have_a_day_partition():
    with pytest.raises(ValueError, match="not a day-partitioned"):
        RawDataset.of(load_settings(GCP_ENV)).partition("ped_limit_changes", SNAPSHOT_DAY)
    with pytest.raises(ValueError, match="REPLICA_LEDGER_GCP_PROJECT"):
        RawDataset.of(load_settings({}))


class RecordingClient:
    """Records what load_table_from_file receives (the job configuration is the unit under test)."""

    def __init__(self):
        self.loads = []

    def load_table_from_file(self, source, destination, *, job_config, location, rewind):
        self.loads.append((source.read(), destination, job_config.to_api_repr()["load"], location))
        return SimpleNamespace(result=lambda timeout: None, job_id=f"job-{len(self.loads)}")


def test_every_table_of_the_day_is_loaded_from_its_file(tmp_path):
    files = {table: tmp_path / f"{table}.jsonl" for table in DAY_TABLES}
    for table, path in files.items():
        path.write_text("" if table == "k8s_rejects" else f'{{"table": "{table}"}}\n')
    client = RecordingClient()
    raw = RawDataset.of(load_settings(GCP_ENV))
    jobs = load_day_files(client, raw, SNAPSHOT_DAY, files)
    assert list(jobs) == list(DAY_TABLES)
    for (data, destination, load, location), table in zip(client.loads, DAY_TABLES, strict=True):
        assert destination == f"{PROJECT}.ledger_raw.{table}$20261011"
        assert data == files[table].read_bytes()  # an empty file empties the partition
        assert load["writeDisposition"] == "WRITE_TRUNCATE"
        assert location == "europe-west1"

"""The benchmark's synthetic fleet: deterministic, readable by the loader, and it shows
what a real platform shows (gaps, PED changes, hand-edited HPAs, rollouts)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from replica_ledger import archive, changelog
from tooling.synthetic_fleet import FleetSpec, generate, iter_raw_days

# Rates raised so that a small fleet shows every behaviour in a few days.
SPEC = FleetSpec(apis=120, days=8, start=date(2026, 3, 1), seed=11, gap_rate=0.25, hand_edit_rate=0.1)


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    output = tmp_path_factory.mktemp("fleet")
    return output, generate(SPEC, output)


def _parsed(output: Path):
    archive_dir = output / "archive"
    for offset in range(SPEC.days):
        day = SPEC.day(offset)
        for cluster, path in sorted(archive.snapshot_files(archive_dir, day).items()):
            yield day, cluster, archive.parse_snapshot(path, cluster, day)


def test_same_seed_same_bytes_other_seed_other_fleet(fleet, tmp_path):
    output, _ = fleet
    generate(SPEC, tmp_path / "again")
    assert _digest(tmp_path / "again") == _digest(output)
    other = FleetSpec(**{**SPEC.__dict__, "seed": 12})
    generate(other, tmp_path / "other")
    assert _digest(tmp_path / "other") != _digest(output)


def test_every_file_parses_without_rejects(fleet):
    output, summary = fleet
    snapshots = list(_parsed(output))
    assert len(snapshots) == summary.snapshot_files == SPEC.days * SPEC.cluster_count - len(summary.gaps)
    for day, cluster, snapshot in snapshots:
        assert snapshot.rejects == [], (day, cluster)
        assert snapshot.captured_at.date() == date.fromordinal(day.toordinal() + 1)
        assert len(snapshot.hpas) == len(snapshot.deployments) - 2  # two kube-system Deployments
    rows = list(changelog.read_change_log(output / "ped_limit_changes.jsonl"))
    assert len(rows) == summary.change_rows and not any(row["parse_error"] for row in rows)


def test_gaps_limit_changes_hand_edits_and_rollouts_are_there(fleet):
    output, summary = fleet
    assert summary.gaps and all(day != SPEC.start.isoformat() for day, _ in summary.gaps)
    for day, cluster in summary.gaps:
        assert cluster not in archive.snapshot_files(output / "archive", date.fromisoformat(day))
    rows = list(changelog.read_change_log(output / "ped_limit_changes.jsonl"))
    actions = {row["action"] for row in rows}
    assert actions == {"upsert", "delete"}
    changed_in_period = [row for row in rows if row["changed_at"] >= SPEC.start.isoformat()]
    assert summary.limit_changes and len(changed_in_period) > summary.limit_changes  # + deletes and bad rows
    assert any(row["max_replicas"] == "12" for row in rows), "a quarantined row (max outside 2..8)"
    assert [row["arrival_seq"] for row in rows] == sorted(row["arrival_seq"] for row in rows)
    assert [row["changed_at"] for row in rows] != sorted(row["changed_at"] for row in rows), "out of order"

    deployments = [row for _, _, snapshot in _parsed(output) for row in snapshot.deployments]
    hpas = [row for _, _, snapshot in _parsed(output) for row in snapshot.hpas]
    assert summary.rollout_api_days and any(row["status_replicas"] > row["spec_replicas"] for row in deployments)
    assert summary.hand_edits and any(row["max_replicas"] == 8 for row in hpas)
    assert any(row["namespace"] == "sandbox" for row in deployments) == bool(summary.unregistered_apis)


def test_raw_rows_are_what_the_loader_reads_from_the_files(fleet):
    output, _ = fleet
    parsed = {(day, cluster): snapshot for day, cluster, snapshot in _parsed(output)}
    for day, rows in iter_raw_days(SPEC):
        for manifest in rows["snapshot_manifest"]:
            snapshot = parsed.get((day, manifest["cluster"]))
            assert (snapshot is None) == (manifest["status"] == "missing")
            if snapshot is None:
                continue
            for table, parsed_rows in (("k8s_deployments", snapshot.deployments), ("k8s_hpas", snapshot.hpas)):
                generated = [row for row in rows[table] if row["cluster"] == manifest["cluster"]]
                stamp = {"snapshot_date": day, "cluster": manifest["cluster"], "captured_at": manifest["captured_at"]}
                expected = [{**{k: v for k, v in row.items() if k != "uid"}, **stamp} for row in parsed_rows]
                assert generated == expected, (day, manifest["cluster"], table)
            assert manifest["captured_at"] == snapshot.captured_at.replace(tzinfo=None)

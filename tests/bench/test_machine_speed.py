"""bench/machine_speed.py times the same work on every run, or its figures compare nothing."""

from __future__ import annotations

from bench import machine_speed


def test_the_workload_is_the_same_work_every_time():
    assert machine_speed.workload(batches=3) == machine_speed.workload(batches=3) > 0


def test_main_prints_the_best_of_its_rounds(capsys, monkeypatch):
    monkeypatch.setattr(machine_speed, "BATCHES", 2)
    machine_speed.main()
    line = capsys.readouterr().out
    assert line.startswith("machine speed: the fixed Python workload took ")
    assert f"best of {machine_speed.ROUNDS}" in line

"""The run window [max(D - L, E), D] (raw.record.run_window), without a warehouse or Airflow.

E is the earliest day of [D - L, D] whose inputs changed since it was built: a file new,
changed or removed (the load record), an audit entry delivered for an earlier day, a day
never loaded that has files now, a PED row that arrived since the last load. Every reason
the run gives is one terminal-safe line.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from replica_ledger.raw.record import DayInputs, LoadHistory, PedArrival, Recorded, parse_changed_on, run_window

D = date(2026, 10, 20)
L = 7
CLUSTERS = ("gke-eu",)


def day(back: int) -> date:
    return D - timedelta(days=back)


def inputs(back: int, files: dict | None = None, audit: dict | None = None) -> DayInputs:
    folder = f"dt={day(back)}"
    default = {f"{folder}/gke-eu.json": "10:1"}
    return DayInputs(day(back), default if files is None else files, CLUSTERS, audit or {})


def recorded(what: DayInputs) -> Recorded:
    row = what.record_row(ped_seen=5)
    return Recorded.of_row(row)


def window_of(now: dict[int, DayInputs], then: dict[int, DayInputs], arrivals=(), ped_seen: int | None = 5):
    """The window for D: `now` the inputs of each day back, `then` what was loaded."""
    history = LoadHistory(
        records={day(back): recorded(what) for back, what in then.items()},
        first_loaded=min((day(back) for back in then), default=None),
        ped_seen=ped_seen,
    )
    return run_window(D, L, {day(back): what for back, what in now.items()}, history, arrivals)


def loaded_window() -> dict[int, DayInputs]:
    return {back: inputs(back) for back in range(L, -1, -1)}


def test_nothing_changed_is_the_run_day_alone():
    window = window_of(loaded_window(), loaded_window())
    assert (window.start, window.days_back, dict(window.changed)) == (D, 0, {})
    assert window.log_lines() == [
        f"window {D}: rebuilds {D}..{D}: no input of the {L} days before changed since they were built"
    ]


def test_a_changed_file_starts_the_window_at_its_day():
    now = loaded_window()
    now[3] = inputs(3, files={f"dt={day(3)}/gke-eu.json": "11:2"})
    window = window_of(now, loaded_window())
    assert (window.start, window.days_back) == (day(3), 3)
    assert window.reloads == {day(3): (f"file dt={day(3)}/gke-eu.json changed",)}
    assert f"window {D}: {day(3)} reloaded and rebuilt: file dt={day(3)}/gke-eu.json changed" in window.log_lines()


def test_a_new_file_and_a_removed_file_are_named():
    now = loaded_window()
    now[2] = inputs(2, files={f"dt={day(2)}/gke-eu.json": "10:1", f"dt={day(2)}/gke-us.json": "4:1"})
    now[4] = inputs(4, files={})
    window = window_of(now, loaded_window())
    assert window.start == day(4)
    assert window.reloads == {
        day(4): (f"file dt={day(4)}/gke-eu.json removed",),
        day(2): (f"file dt={day(2)}/gke-us.json new",),
    }


def test_an_audit_entry_delivered_for_an_earlier_day_rebuilds_from_that_day():
    now, then = loaded_window(), loaded_window()
    then[5] = inputs(5, audit={"audit/dt=x/a.jsonl": "1:1"})
    now[5] = inputs(5, audit={"audit/dt=x/a.jsonl": "2:2"})
    window = window_of(now, then)
    assert window.start == day(5)
    assert window.changed == {day(5): ("audit audit/dt=x/a.jsonl changed",)}


def test_a_never_run_day_is_loaded_when_its_files_exist_and_left_a_gap_when_not():
    then = loaded_window()
    del then[2], then[4]  # two days no run ever loaded
    now = loaded_window()
    now[4] = inputs(4, files={})  # no file: a gap, nothing to load
    window = window_of(now, then)
    assert window.start == day(2)
    assert window.reloads == {day(2): (f"never loaded, files now: dt={day(2)}/gke-eu.json",)}


def test_a_run_never_reaches_before_the_first_day_loaded():
    then = {back: inputs(back) for back in (2, 1)}
    window = window_of(loaded_window(), then)  # days 7..3 have files but precede the first load
    assert window.start == D and window.reloads == {}


def test_a_late_ped_row_rebuilds_from_the_day_before_its_changed_at():
    late = PedArrival(arrival_seq=6, change_id="ped-9", changed_on=day(3))
    window = window_of(loaded_window(), loaded_window(), [late])
    # day(4)'s snapshot is captured just after its midnight, on day(3): judged again too.
    assert window.start == day(4)
    assert window.changed == {day(4): (f"PED change ped-9 (arrival 6) changed_at {day(3)}",)}
    assert window.reloads == {}  # no file to load again: dbt re-judges the days


def test_a_ped_row_older_than_the_window_rebuilds_all_of_it_and_says_what_it_cannot_heal():
    late = PedArrival(arrival_seq=6, change_id="ped-old", changed_on=day(20))
    window = window_of(loaded_window(), loaded_window(), [late])
    assert window.start == day(L)
    assert window.not_healed == (f"PED change ped-old (arrival 6) changed_at {day(20)}: days before {day(L)}",)


def test_future_and_unreadable_ped_rows_change_no_day():
    rows = [PedArrival(6, "later", D + timedelta(days=1)), PedArrival(7, "no-time", None)]
    window = window_of(loaded_window(), loaded_window(), rows)
    assert window.start == D and window.changed == {}


def test_the_earliest_of_every_kind_of_change_wins():
    now = loaded_window()
    now[1] = inputs(1, files={f"dt={day(1)}/gke-eu.json": "99:9"})
    window = window_of(now, loaded_window(), [PedArrival(6, "ped-9", day(4))])
    assert window.start == day(5)
    assert set(window.changed) == {day(5), day(1)}
    summary = json.loads(window.to_json())
    assert summary["start"] == str(day(5)) and summary["end"] == str(D)


def test_outside_text_in_a_reason_is_neutralised():
    hostile = "dt=x/\x1b]8;;http://evil\x07gke\x1b[2J\nfake.json"
    now = loaded_window()
    now[2] = inputs(2, files={**inputs(2).files, hostile: "1:1"})
    arrivals = [PedArrival(6, "id\x1b[31m\r\nforged line", day(1))]
    lines = window_of(now, loaded_window(), arrivals).log_lines()
    assert lines and all("\x1b" not in line and "\n" not in line and "\r" not in line for line in lines)
    assert all("\x07" not in line for line in lines)


def test_a_record_from_before_the_versions_column_still_tells_a_change():
    now = loaded_window()
    now[3] = inputs(3, files={f"dt={day(3)}/gke-eu.json": "11:2"})
    old = {back: inputs(back) for back in range(L, -1, -1)}
    history = LoadHistory(
        records={day(back): Recorded(fingerprint=what.fingerprint) for back, what in old.items()},
        first_loaded=day(L),
        ped_seen=None,
    )
    window = run_window(D, L, {day(back): what for back, what in now.items()}, history, ())
    assert window.reloads == {day(3): ("inputs changed since its last load",)}


def test_changed_at_text_is_read_as_its_utc_day():
    assert parse_changed_on("2026-10-11T23:30:00-02:00") == date(2026, 10, 12)
    assert parse_changed_on("2026-10-11T09:00:00Z") == date(2026, 10, 11)
    assert parse_changed_on("2026-10-11 09:00:00") is None  # no zone: quarantined downstream
    assert parse_changed_on("yesterday") is None and parse_changed_on(None) is None

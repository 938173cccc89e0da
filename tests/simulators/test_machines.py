"""machines.py: the pure state machine, no I/O."""

import pytest

from simulators.machines import TAG_NAMES
from tests.simulators.conftest import make_machine as make


def test_counts_stay_within_jitter_bounds() -> None:
    m = make()
    m.advance(10_000.0)
    made = m.good_total + m.scrap_total
    assert 10_000 / 11 - 1 <= made <= 10_000 / 9 + 1
    assert 0 < m.scrap_total < made * 0.1  # ~5 % scrap


def test_same_seed_same_parts_however_the_time_is_sliced() -> None:
    a, b = make(), make()
    a.advance(3_000.0)
    for step in range(1, 3001):
        b.advance(step * 1.0)
    assert (a.good_total, a.scrap_total) == (b.good_total, b.scrap_total)


def test_counter_wraps_at_16_bits_and_totals_do_not() -> None:
    m = make(counter_width=16, counter_start=65530, jitter=0.0, scrap_probability=0.0, cycle_time_s=1.0)
    m.advance(10.5)
    assert m.good_total == 10
    assert m.good_counter == (65530 + 10) % 65536 == 4
    assert m.total_cycles == 10


def test_fault_stops_production_then_resumes_after_duration() -> None:
    m = make(jitter=0.0, scrap_probability=0.0, cycle_time_s=1.0)
    m.set_state("fault", 5.5, duration=10.0, fault_code=17)
    assert m.state == "fault" and m.tags()["fault_code"] == 17 and m.tags()["status_bits"] == 2
    m.advance(15.0)
    assert m.good_total == 5  # nothing during the fault
    m.advance(20.0)
    assert m.state == "running" and m.tags()["fault_code"] == 0
    assert m.good_total == 5 + 4  # cycles restart at 15.5: parts at 16.5 .. 19.5
    assert [t.state for t in m.take().transitions] == ["fault", "running"]


def test_reset_and_set_counter() -> None:
    m = make(counter_width=16)
    m.advance(100.0)
    assert m.reset_counter("both") == [("good", m.good_total, 0), ("scrap", m.scrap_total, 0)]
    assert m.set_counter("good", 65535) == ("good", 0, 65535)
    with pytest.raises(ValueError, match="16-bit"):
        m.set_counter("good", 65536)


def test_writes_and_unknown_state() -> None:
    m = make()
    m.write("work_order", "WO-2026-000123-TOOLONGX")
    m.write("setpoint", 70000)
    assert m.tags()["work_order"] == "WO-2026-000123-TOOLO" and m.tags()["setpoint"] == 70000 - 65536
    with pytest.raises(ValueError, match="unknown state"):
        m.set_state("sleeping", 1.0)


def test_random_faults_follow_mtbf_and_mttr_deterministically() -> None:
    a = make(
        jitter=0.0, scrap_probability=0.0, cycle_time_s=1.0, mtbf_s=100.0, mttr_s=10.0, fault_codes=[7, 9]
    )
    b = make(
        jitter=0.0, scrap_probability=0.0, cycle_time_s=1.0, mtbf_s=100.0, mttr_s=10.0, fault_codes=[7, 9]
    )
    a.advance(20_000.0)
    for step in range(1, 2001):
        b.advance(step * 10.0)
    faults = [t for t in a.take().transitions if t.state == "fault"]
    assert 120 <= len(faults) <= 240  # ~20,000 / 110
    assert {t.fault_code for t in faults} == {7, 9}
    assert 0.85 <= a.good_total / 20_000 <= 0.95  # availability ~ 100 / 110
    assert (a.good_total, len(faults)) == (
        b.good_total,
        len([t for t in b.take().transitions if t.state == "fault"]),
    )


def test_no_random_faults_by_default() -> None:
    m = make()
    m.advance(100_000.0)
    assert all(t.state != "fault" for t in m.take().transitions)


def test_tag_names_are_what_a_machine_serves() -> None:
    assert tuple(make().tags()) == TAG_NAMES

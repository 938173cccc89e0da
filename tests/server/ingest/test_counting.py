"""Counter increments (server/domain/counting.py): every rule of its module docstring, pure."""

import pytest

from server.domain.counting import CounterState, Kind, Limits, as_count, step

T0 = 1_700_000_000_000
LIMITS = Limits(ideal_cycle_s=1.0, factor=10.0, slack=20)  # at most 20 + 10 parts per second


def at(value: int, seconds: float = 0.0) -> CounterState:
    return CounterState(value, T0 + int(seconds * 1000))


def test_first_sample_is_a_baseline_not_a_jump() -> None:
    result = step(None, 51_234, T0, width=32, limits=LIMITS)
    assert result.kind is Kind.BASELINE
    assert result.increment == 0
    assert result.state == at(51_234)


@pytest.mark.parametrize(("old", "new", "expected"), [(10, 10, 0), (10, 11, 1), (10, 25, 15), (0, 30, 30)])
def test_plain_increment(old: int, new: int, expected: int) -> None:
    result = step(at(old), new, T0 + 1000, width=16, limits=LIMITS)
    assert (result.kind, result.increment) == (Kind.INCREMENT, expected)
    assert result.state == at(new, 1)


@pytest.mark.parametrize(
    ("width", "old", "new", "expected"),
    [(16, 65_530, 4, 10), (16, 65_535, 0, 1), (32, 4_294_967_290, 3, 9), (32, 4_294_967_295, 0, 1)],
)
@pytest.mark.faults
def test_wrap_at_the_counter_width(width: int, old: int, new: int, expected: int) -> None:
    result = step(at(old), new, T0 + 2000, width=width, limits=LIMITS)
    assert (result.kind, result.increment) == (Kind.WRAP, expected)


@pytest.mark.faults
def test_drop_far_from_the_top_is_an_operator_reset_counting_the_new_value() -> None:
    result = step(at(5_000), 3, T0 + 2000, width=16, limits=LIMITS)
    assert (result.kind, result.increment) == (Kind.RESET, 3)
    assert result.state == at(3, 2)


def test_reset_to_zero_counts_nothing_but_moves_the_baseline() -> None:
    result = step(at(700), 0, T0 + 1000, width=32, limits=LIMITS)
    assert (result.kind, result.increment) == (Kind.RESET, 0)
    assert step(result.state, 2, T0 + 2000, width=32, limits=LIMITS).increment == 2


def test_drop_without_a_known_width_is_a_reset() -> None:
    result = step(at(65_530), 4, T0 + 1000, width=None, limits=LIMITS)
    assert (result.kind, result.increment) == (Kind.RESET, 4)


@pytest.mark.faults
def test_wrap_rule_depends_on_elapsed_time() -> None:
    # 16-bit, 65_000 -> 500 is a wrap of 1_036 parts: implausible after 1 s, plausible after 2 minutes
    quick = step(at(65_000), 500, T0 + 1000, width=16, limits=LIMITS)
    slow = step(at(65_000), 500, T0 + 120_000, width=16, limits=LIMITS)
    assert quick.kind is Kind.QUARANTINE  # neither a wrap (too many) nor a reset (500 > 30 in 1 s)
    assert (slow.kind, slow.increment) == (Kind.WRAP, 1_036)


@pytest.mark.faults
def test_impossible_jump_is_quarantined_and_a_glitch_is_forgotten() -> None:
    result = step(at(100), 100_000, T0 + 1000, width=32, limits=LIMITS)
    assert (result.kind, result.increment) == (Kind.QUARANTINE, 0)
    assert "exceeds" in result.reason
    assert result.state == CounterState(100, T0, 100_000, T0 + 1000)  # the good reading stays the reference
    after = step(result.state, 103, T0 + 2000, width=32, limits=LIMITS)
    assert (after.kind, after.increment) == (Kind.INCREMENT, 3)
    assert after.state == at(103, 2)


@pytest.mark.faults
def test_a_confirmed_jump_is_not_counted_but_counting_goes_on_from_it() -> None:
    first = step(at(100), 100_000, T0 + 1000, width=32, limits=LIMITS)
    second = step(first.state, 100_004, T0 + 2000, width=32, limits=LIMITS)
    assert (second.kind, second.increment) == (Kind.INCREMENT, 4)
    assert second.state == at(100_004, 2)
    assert "confirmed" in second.reason


def test_two_different_garbage_values_stay_quarantined() -> None:
    first = step(at(100), 100_000, T0 + 1000, width=32, limits=LIMITS)
    second = step(first.state, 7_000_000, T0 + 2000, width=32, limits=LIMITS)
    assert second.kind is Kind.QUARANTINE
    assert second.state == CounterState(100, T0, 7_000_000, T0 + 2000)


def test_a_long_outage_counts_what_the_machine_made_meanwhile() -> None:
    # edge down for an hour: 3_000 parts are plausible (limit 20 + 36_000)
    result = step(at(1_000), 4_000, T0 + 3_600_000, width=32, limits=LIMITS)
    assert (result.kind, result.increment) == (Kind.INCREMENT, 3_000)


def test_the_limit_without_an_ideal_cycle_time_uses_the_default_rate() -> None:
    limits = Limits(ideal_cycle_s=None, default_max_rate=5.0, slack=0)
    assert limits.max_increment(2000) == 10
    assert step(at(0), 10, T0 + 2000, limits=limits).kind is Kind.INCREMENT
    assert step(at(0), 11, T0 + 2000, limits=limits).kind is Kind.QUARANTINE


@pytest.mark.parametrize("quality", ["bad", "stale", "uncertain"])
def test_samples_of_other_quality_do_not_count_and_keep_the_state(quality: str) -> None:
    old = at(10)
    result = step(old, 15, T0 + 1000, quality=quality, width=16, limits=LIMITS)
    assert (result.kind, result.increment) == (Kind.IGNORED, 0)
    assert result.state is old
    # the next good sample is compared with the last good one
    assert step(old, 17, T0 + 2000, width=16, limits=LIMITS).increment == 7


@pytest.mark.parametrize("value", [None, "12", True, -1, 1.5, float("nan"), 70_000])
def test_values_that_cannot_be_a_counter_are_ignored(value: object) -> None:
    result = step(at(10), value, T0 + 1000, width=16, limits=LIMITS)
    assert result.kind is Kind.IGNORED
    assert result.state == at(10)


def test_integral_floats_are_counter_values() -> None:
    assert as_count(12.0, 16) == 12
    assert step(at(10), 12.0, T0 + 1000, width=16, limits=LIMITS).increment == 2


def test_replayed_or_out_of_order_samples_are_stale() -> None:
    state = at(20, 5)
    for ts in (T0 + 5000, T0 + 4000):
        result = step(state, 25, ts, width=16, limits=LIMITS)
        assert (result.kind, result.increment) == (Kind.STALE, 0)
        assert result.state is state


@pytest.mark.faults
def test_a_sequence_with_wrap_reset_and_garbage_sums_exactly() -> None:
    readings = [65_530, 65_534, 2, 6, 0, 4, 60_000, 9, 13]  # wrap, reset to 0, a glitch, rise
    state, total, kinds = None, 0, []
    for i, value in enumerate(readings):
        result = step(state, value, T0 + i * 1000, width=16, limits=LIMITS)
        state, total = result.state, total + result.increment
        kinds.append(result.kind)
    assert kinds == [Kind.BASELINE, Kind.INCREMENT, Kind.WRAP, Kind.INCREMENT, Kind.RESET, Kind.INCREMENT,
                     Kind.QUARANTINE, Kind.INCREMENT, Kind.INCREMENT]  # fmt: skip
    assert total == 4 + 4 + 4 + 0 + 4 + 5 + 4


@pytest.mark.faults
def test_an_implausible_drop_holds_the_larger_reading_and_names_both() -> None:
    """16-bit, 65_000 -> 500 after 1 s: a wrap of 1_036 or a reset of 500, neither plausible. 1_036 held,
    so confirming never loses a part; the reason names both for the supervisor."""
    result = step(at(65_000), 500, T0 + 1000, width=16, limits=LIMITS)
    assert (result.kind, result.increment, result.held) == (Kind.QUARANTINE, 0, 1_036)
    assert "a wrap of 1036 or a reset of 500" in result.reason

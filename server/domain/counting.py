"""Counter increments: pure functions, no database (docs/ingest.md, "Counting").

A PLC counter is a number that moves by one per part (or cycle), up or down, wraps at its width (16, 32 or
64 bits) and may be reset by an operator to its reset value (0, or a down counter's preset). Given the last
good reading `(old, old_ts)` and a new sample `(new, ts, quality)`, `step()` decides what happened. A down
counter is counted as an up counter in the mirrored space `top - value` (`top = 2**width - 1`), so every
rule below reads for both directions.

1. quality other than "good", a value that is not a non-negative integer, or a value beyond the counter's
   width: IGNORED, the state is kept (the next good sample is compared with the last good one).
2. no previous state: BASELINE (the first sample ever): nothing counted.
3. ts <= old_ts: STALE (a re-sent or out-of-order sample): ignored, state kept.
4. `new >= old`: INCREMENT of `new - old`, if plausible.
5. `new < old`: two readings of the drop. WRAP `w = (new - old) mod 2**width` (the counter passed its top;
   only with a known width) and RESET `r = new - reset_value` (the operator reset it and `r` parts were made
   since; only when `new >= reset_value`). Only one plausible: that one. Both plausible and equal: a wrap.
   Both plausible and different, the machine's state at the jump and its own rate decide:
   - stopped before the sample and `new == reset_value`: RESET (no part is made while stopped, a reset lands
     on the reset value);
   - running at the jump, or no state known: WRAP, if `w` fits the machine's learned rate (`rate_fits`) or
     no rate is learned yet;
   - otherwise AMBIGUOUS: `min(w, r)` (made for sure under both readings) is counted and the difference is
     HELD for a person to confirm (it was a wrap, or a reset, whichever is larger) or reject.
6. any increment that is not plausible: QUARANTINE: nothing counted, the increment is HELD (an anomaly
   recorded by the caller; a drop holds the larger of its readings, the reason names both), the last good
   reading stays the reference and the new value is kept as a *suspect*. The next sample decides:
   plausible from the last good reading -> the suspect was a glitch
   (`settled` "glitch": the caller dismisses the anomaly); else plausible from the suspect -> the jump was
   real (say, a counter preset): the jump stays held (not counted) and counting goes on from the suspect
   (`settled` "jump"); else it becomes the new suspect.

Plausible: `increment <= max_increment(elapsed)`, `slack + ceil(elapsed_s * max_rate)`, with `max_rate` the
counter's learned rate x `learned_factor` once learned, else `factor / ideal_cycle_s` (the machine's ideal
cycle) or `default_max_rate`. The learned rate is a slowly decaying peak of the counter's rate over windows
of at least `rate_window_ms` in which it counted; it is part of the state (persisted with it).
"""

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal


class Kind(StrEnum):
    BASELINE = "baseline"
    INCREMENT = "increment"
    WRAP = "wrap"
    RESET = "reset"
    AMBIGUOUS = "ambiguous"  # a drop read as wrap or reset: the sure part counted, the rest held
    QUARANTINE = "quarantine"
    IGNORED = "ignored"
    STALE = "stale"


COUNTED = frozenset({Kind.INCREMENT, Kind.WRAP, Kind.RESET, Kind.AMBIGUOUS})


@dataclass(frozen=True, slots=True)
class Limits:
    """How fast a counter may plausibly move (counter units: parts, or cycles of a cycle counter)."""

    ideal_cycle_s: float | None = None
    factor: float = 10.0
    default_max_rate: float = 100.0  # per second, when neither a learned rate nor an ideal cycle is known
    slack: int = 20
    learned_factor: float = 3.0  # a learned peak rate x this is the plausible maximum
    rate_window_ms: int = 60_000  # the learned rate is measured over windows at least this long
    rate_decay: float = 0.9  # a window slower than the peak pulls it down by (1 - decay) of the difference
    fit_factor: float = 1.5  # a wrap "fits the rate" when w <= ceil(rate x elapsed x this) + 1

    def max_rate(self, learned: float | None = None) -> float:
        if learned is not None and learned > 0:
            return learned * self.learned_factor
        if self.ideal_cycle_s is not None and self.ideal_cycle_s > 0:
            return self.factor / self.ideal_cycle_s
        return self.default_max_rate

    def max_increment(self, elapsed_ms: int, learned: float | None = None) -> int:
        rate = self.max_rate(learned)
        return self.slack + math.ceil(max(elapsed_ms, 0) / 1000.0 * rate)

    def rate_fits(self, increment: int, elapsed_ms: int, learned: float | None) -> bool:
        """Does `increment` fit the learned rate over `elapsed_ms` (True when no rate is learned yet)?"""
        if learned is None or learned <= 0:
            return True
        return increment <= math.ceil(learned * max(elapsed_ms, 0) / 1000.0 * self.fit_factor) + 1


@dataclass(frozen=True, slots=True)
class Counter:
    """What a counter tag is (docs/contracts.md, "Tag meaning")."""

    width: int | None = None  # 16, 32 or 64; None: no wraps known
    direction: Literal["up", "down"] = "up"
    reset_value: int = 0

    @property
    def top(self) -> int:
        return (1 << (self.width or 64)) - 1

    def up(self, value: int) -> int:
        """The value in the up-counting space the rules work in."""
        return value if self.direction == "up" else self.top - value


@dataclass(frozen=True, slots=True)
class Activity:
    """The machine's state at a counter sample's time, as its state tags tell (None: nothing known)."""

    running: bool | None = None
    since_ms: int | None = None  # when it entered that (None: before anything this process knows)

    def stopped_before(self, ts_ms: int) -> bool:
        return self.running is False and (self.since_ms is None or self.since_ms < ts_ms)


UNKNOWN = Activity()


@dataclass(frozen=True, slots=True)
class CounterState:
    value: int  # raw PLC value
    ts_ms: int
    suspect_value: int | None = None  # a quarantined reading waiting for confirmation
    suspect_ts_ms: int | None = None
    # what the counter taught about its machine's rate (not part of the reading: left out of ==)
    rate: float | None = field(default=None, compare=False)  # learned peak rate, counter units per second
    window_ms: int | None = field(default=None, compare=False)  # start of the current rate window
    window_parts: int = field(default=0, compare=False)  # counted in the current rate window


@dataclass(frozen=True, slots=True)
class Step:
    """What one sample did: `increment` counted, `held` set aside for a person (counter units)."""

    kind: Kind
    increment: int
    state: CounterState | None  # the state to persist after this sample
    reason: str = ""
    held: int = 0
    settled: Literal["glitch", "jump"] | None = None  # what became of the previous suspect


def as_count(value: object, width: int | None) -> int | None:
    """The sample's value as a counter reading, or None when it cannot be one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value)
    if not isinstance(value, int) or value < 0:
        return None
    if value >= 1 << (width or 64):
        return None
    return value


def step(
    state: CounterState | None,
    value: object,
    ts_ms: int,
    quality: str = "good",
    width: int | None = None,
    limits: Limits = Limits(),
    *,
    counter: Counter | None = None,
    activity: Activity = UNKNOWN,
) -> Step:
    """Apply one sample to a counter's state (see the module docstring for the rules)."""
    spec = counter or Counter(width)
    if quality != "good":
        return Step(Kind.IGNORED, 0, state, f"quality {quality}")
    new = as_count(value, spec.width)
    if new is None:
        return Step(Kind.IGNORED, 0, state, f"not a counter value: {value!r}")
    if state is None:
        return Step(Kind.BASELINE, 0, CounterState(new, ts_ms, window_ms=ts_ms), "first sample")
    if ts_ms <= state.ts_ms:
        return Step(Kind.STALE, 0, state, "not newer than the last reading")
    change = _change(state.value, state.ts_ms, new, ts_ms, spec, limits, state.rate, activity)
    if change.kind is not Kind.QUARANTINE:
        settled: Literal["glitch"] | None = "glitch" if state.suspect_value is not None else None
        return replace(change, state=_learn(state, new, ts_ms, change.increment, limits), settled=settled)
    elapsed = ts_ms - state.ts_ms
    if state.suspect_value is not None and state.suspect_ts_ms is not None and ts_ms > state.suspect_ts_ms:
        after_suspect = _change(
            state.suspect_value, state.suspect_ts_ms, new, ts_ms, spec, limits, state.rate, activity
        )
        if after_suspect.kind is not Kind.QUARANTINE:
            learned = _learn(state, new, ts_ms, after_suspect.increment, limits)
            reason = f"jump to {state.suspect_value} confirmed"
            return replace(after_suspect, state=learned, reason=reason, settled="jump")
    reason = f"{change.reason} in {elapsed} ms"
    suspect = replace(state, suspect_value=new, suspect_ts_ms=ts_ms)
    return Step(Kind.QUARANTINE, 0, suspect, reason, held=change.held)


def _change(
    old_raw: int, old_ts: int, new_raw: int, ts_ms: int, spec: Counter, limits: Limits,
    rate: float | None, activity: Activity,
) -> Step:  # fmt: skip
    """The move from `old_raw` to `new_raw` (state not filled in)."""
    elapsed = ts_ms - old_ts
    allowed = limits.max_increment(elapsed, rate)
    old, new = spec.up(old_raw), spec.up(new_raw)
    if new >= old:
        return _plausible(Kind.INCREMENT, new - old, allowed, old_raw, new_raw)
    wrap = (new - old) % (1 << spec.width) if spec.width is not None else None
    reset_at = spec.up(spec.reset_value)
    reset = new - reset_at if new >= reset_at else None
    wrap_ok = wrap is not None and wrap <= allowed
    reset_ok = reset is not None and reset <= allowed
    if wrap is not None and wrap_ok and (not reset_ok or wrap == reset):
        return Step(Kind.WRAP, wrap, None)
    if reset is not None and reset_ok and not wrap_ok:
        return Step(Kind.RESET, reset, None)
    if wrap is not None and reset is not None and wrap_ok and reset_ok:
        fits = limits.rate_fits(wrap, elapsed, rate)
        if activity.stopped_before(ts_ms) and new == reset_at:
            return Step(Kind.RESET, reset, None, "the machine was stopped: a reset")
        if activity.running is not False and fits:
            return Step(Kind.WRAP, wrap, None)
        sure, held = min(wrap, reset), abs(wrap - reset)
        reason = (
            f"{old_raw} to {new_raw}: a wrap ({wrap}) or a reset ({reset}); "
            f"machine {_activity(activity)}: {sure} counted, {held} held"
        )
        return Step(Kind.AMBIGUOUS, sure, None, reason, held=held)
    readings = [(n, k) for n, k in ((wrap, "wrap"), (reset, "reset")) if n is not None]
    held = max(n for n, _ in readings) if readings else new  # the larger reading: nothing is lost unseen
    told = " or ".join(f"a {k} of {n}" for n, k in readings) or f"{new}"
    reason = f"{told} from {old_raw} to {new_raw} exceeds {allowed}"
    return Step(Kind.QUARANTINE, 0, None, reason, held=held)


def _plausible(kind: Kind, increment: int, allowed: int, old_raw: int, new_raw: int) -> Step:
    if increment <= allowed:
        return Step(kind, increment, None)
    reason = f"{kind.value} of {increment} from {old_raw} to {new_raw} exceeds {allowed}"
    return Step(Kind.QUARANTINE, 0, None, reason, held=increment)


def _activity(activity: Activity) -> str:
    if activity.running is None:
        return "state unknown"
    return "running" if activity.running else "stopped at the sample"


def _learn(state: CounterState, new: int, ts_ms: int, counted: int, limits: Limits) -> CounterState:
    """The state after a counted reading: the new reference, the rate window and the learned rate."""
    start = state.window_ms if state.window_ms is not None else state.ts_ms
    parts = state.window_parts + counted
    rate = state.rate
    if ts_ms - start < limits.rate_window_ms:
        return CounterState(new, ts_ms, rate=rate, window_ms=start, window_parts=parts)
    if parts > 0:  # idle windows teach nothing about how fast the machine can go
        measured = parts * 1000.0 / (ts_ms - start)
        rate = (
            measured
            if rate is None or measured >= rate
            else rate * limits.rate_decay + measured * (1 - limits.rate_decay)
        )
    return CounterState(new, ts_ms, rate=rate, window_ms=ts_ms, window_parts=0)


def clock_stepped_back(old: CounterState, ts_ms: int) -> CounterState:
    """The reference for a counter sample at `ts_ms` not newer than the last reading `old`, at or above its
    value. Batches of an edge are applied once, in seq order (a resend never gets here), so this is the
    edge's clock stepped back: the sample is the newer reading and counts. The last reading is moved to just
    before it (the plausibility limit then allows the slack only: a few polls' worth of parts). A lower value
    with an older time stays ignored as stale (it could be an old reading from another edge); if it was a
    reset or wrap, the next sample newer than the last reading counts it."""
    moved = ts_ms - 1
    suspect_ts = None if old.suspect_ts_ms is None else min(old.suspect_ts_ms, moved)
    window = None if old.window_ms is None else min(old.window_ms, moved)
    return replace(old, ts_ms=moved, suspect_ts_ms=suspect_ts, window_ms=window)

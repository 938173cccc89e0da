"""Counter increments (docs/ingest.md, "Counting"): pure functions, no database.

A PLC part counter is a number that rises by one per part, wraps at its width (16 or 32 bits) and may be
zeroed by an operator. Given the last good reading `(old, old_ts)` and a new sample `(new, ts, quality)`,
`step()` decides what happened:

1. quality other than "good", a value that is not a non-negative integer, or a value beyond the counter's
   width: IGNORED, the state is kept (the next good sample is compared with the last good one).
2. no previous state: BASELINE (the first sample ever, or after a quarantine): nothing counted.
3. ts <= old_ts: STALE (a re-sent or out-of-order sample): ignored, state kept.
4. `new >= old`: INCREMENT of `new - old`, if plausible.
5. `new < old` and the counter has a width w: `wrapped = (new - old) mod 2**w`; if `wrapped` is
   plausible it is a WRAP counting `wrapped` (the counter passed its top and restarted at zero).
6. otherwise (`new < old`, not a plausible wrap): RESET (the operator zeroed the counter), counting `new`
   (parts made since the reset), if plausible.
7. any increment that is not plausible: QUARANTINE: nothing counted, the anomaly is recorded by the
   caller, the last good reading stays the reference and the new value is kept as a *suspect*. The next
   sample decides: plausible from the last good reading -> the suspect was a glitch, count from the good
   reading; else plausible from the suspect -> the jump was real (say, a counter preset): the jump itself
   stays uncounted and counting goes on from the suspect; else it becomes the new suspect.

Plausible: `increment <= max_increment(elapsed)`, where
`max_increment = slack + ceil(elapsed_s * max_rate)` and `max_rate = factor / ideal_cycle_s` (a machine
rarely runs faster than its ideal cycle; `factor` makes that generous) or `default_max_rate` parts per
second when the machine has no ideal cycle time. A machine's counter that kept counting while the edge or
server was down is therefore counted in full when the edge comes back (elapsed time is long), while a
garbage jump seconds after the last reading is quarantined.
"""

import math
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    BASELINE = "baseline"
    INCREMENT = "increment"
    WRAP = "wrap"
    RESET = "reset"
    QUARANTINE = "quarantine"
    IGNORED = "ignored"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Limits:
    """How fast a counter may plausibly rise."""

    ideal_cycle_s: float | None = None
    factor: float = 10.0
    default_max_rate: float = 100.0  # parts per second, when no ideal cycle time is known
    slack: int = 20

    def max_increment(self, elapsed_ms: int) -> int:
        rate = self.default_max_rate
        if self.ideal_cycle_s is not None and self.ideal_cycle_s > 0:
            rate = self.factor / self.ideal_cycle_s
        return self.slack + math.ceil(max(elapsed_ms, 0) / 1000.0 * rate)


@dataclass(frozen=True, slots=True)
class CounterState:
    value: int
    ts_ms: int
    suspect_value: int | None = None  # a quarantined reading waiting for confirmation
    suspect_ts_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """What one sample did: `increment` parts counted (0 unless INCREMENT, WRAP or RESET)."""

    kind: Kind
    increment: int
    state: CounterState | None  # the state to persist after this sample
    reason: str = ""


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
    if width is not None and value >= 1 << width:
        return None
    return value


def step(
    state: CounterState | None,
    value: object,
    ts_ms: int,
    quality: str = "good",
    width: int | None = None,
    limits: Limits = Limits(),
) -> Step:
    """Apply one sample to a counter's state (see the module docstring for the rules)."""
    if quality != "good":
        return Step(Kind.IGNORED, 0, state, f"quality {quality}")
    new = as_count(value, width)
    if new is None:
        return Step(Kind.IGNORED, 0, state, f"not a counter value: {value!r}")
    if state is None:
        return Step(Kind.BASELINE, 0, CounterState(new, ts_ms), "first sample")
    if ts_ms <= state.ts_ms:
        return Step(Kind.STALE, 0, state, "not newer than the last reading")
    after = CounterState(new, ts_ms)
    kind, increment, allowed = _change(state.value, state.ts_ms, new, ts_ms, width, limits)
    if increment <= allowed:
        return Step(kind, increment, after)
    elapsed = ts_ms - state.ts_ms
    reason = f"{kind.value} of {increment} from {state.value} to {new} exceeds {allowed} in {elapsed} ms"
    if state.suspect_value is not None and state.suspect_ts_ms is not None and ts_ms > state.suspect_ts_ms:
        kind, increment, allowed = _change(
            state.suspect_value, state.suspect_ts_ms, new, ts_ms, width, limits
        )
        if increment <= allowed:
            return Step(kind, increment, after, f"jump to {state.suspect_value} confirmed")
    return Step(Kind.QUARANTINE, 0, CounterState(state.value, state.ts_ms, new, ts_ms), reason)


def clock_stepped_back(old: CounterState, ts_ms: int) -> CounterState:
    """The reference for a counter sample at `ts_ms` not newer than the last reading `old`, at or above its
    value. Batches of an edge are applied once, in seq order (a resend never gets here), so this is the
    edge's clock stepped back: the sample is the newer reading and counts. The last reading is moved to just
    before it (the plausibility limit then allows the slack only: a few polls' worth of parts). A lower value
    with an older time stays ignored as stale (it could be an old reading from another edge); if it was a
    reset or wrap, the next sample newer than the last reading counts it."""
    moved = ts_ms - 1
    suspect_ts = None if old.suspect_ts_ms is None else min(old.suspect_ts_ms, moved)
    return CounterState(old.value, moved, old.suspect_value, suspect_ts)


def _change(
    old: int, old_ts: int, new: int, ts_ms: int, width: int | None, limits: Limits
) -> tuple[Kind, int, int]:
    """(kind, increment, allowed) of a move from `old` to `new`."""
    allowed = limits.max_increment(ts_ms - old_ts)
    if new >= old:
        return Kind.INCREMENT, new - old, allowed
    if width is not None and (new - old) % (1 << width) <= allowed:
        return Kind.WRAP, (new - old) % (1 << width), allowed
    return Kind.RESET, new, allowed

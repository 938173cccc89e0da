"""Property-based tests of the counting rules (server/domain/counting.py; docs/ingest.md, "Property-based
tests"): random counter histories against a simple model of what the machine made. Every history asserts
that Takt never counts a part that was not made, and that every part made but not counted is held as an
explicit anomaly; with no anomaly the count is exact.

The model: a machine runs or stops; while running it makes parts at a bounded rate, the edge reads the
counter (sometimes twice at the same time, sometimes again later with no change) and its state; an operator
resets the counter (to 0 or to a configured value behind it) only on a stopped machine, read before and
after; a PLC
restart does the same; an outage passes hours without readings while the machine keeps making parts (less
than half the counter's range: a counter passing its whole range between two readings is invisible to
anyone). Counters are 16, 32 or 64 bits wide, count up or down, and start anywhere, near the top too.

`make test` runs the `ci` profile: a fixed seed (derandomized) and a bounded number of examples. A longer
run: TAKT_HYPOTHESIS_PROFILE=long (random seeds, 20,000 examples per property).
"""

import os
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.domain.counting import COUNTED, Activity, Counter, CounterState, Kind, Limits, step

settings.register_profile(
    "ci", derandomize=True, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("long", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("TAKT_HYPOTHESIS_PROFILE", "ci"))

T0 = 1_700_000_000_000
LIMITS = Limits()  # the server's defaults: learned rate x 3, else 100/s; slack 20


@dataclass
class Plc:
    counter: Counter
    raw: int
    running: bool = True
    since_ms: int | None = None
    now_ms: int = T0
    made: int = 0  # parts made since the start (the model's truth)

    def make(self, parts: int) -> None:
        self.made += parts
        top = 1 << (self.counter.width or 64)
        step_ = 1 if self.counter.direction == "up" else -1
        self.raw = (self.raw + step_ * parts) % top

    def reset(self) -> None:
        self.raw = self.counter.reset_value


@dataclass
class Takt:
    counter: Counter
    state: CounterState | None = None
    counted: int = 0
    held: int = 0
    kinds: list[Kind] = field(default_factory=list)

    def read(self, plc: Plc, ts_ms: int) -> None:
        activity = Activity(plc.running, plc.since_ms)
        result = step(self.state, plc.raw, ts_ms, limits=LIMITS, counter=self.counter, activity=activity)
        assert result.increment >= 0 and result.held >= 0
        assert result.kind in COUNTED or result.increment == 0
        self.state = result.state
        self.counted += result.increment
        self.held += result.held
        self.kinds.append(result.kind)


@st.composite
def counters(draw: st.DrawFn) -> tuple[Counter, int]:
    width = draw(st.sampled_from([16, 32, 64]))
    top = (1 << width) - 1
    direction = draw(st.sampled_from(["up", "down"]))
    reset_value = draw(st.sampled_from([0, 0, 1, 500, top // 2]))
    if direction == "down" and reset_value == 0:
        reset_value = draw(st.sampled_from([500, top]))
    start = draw(st.one_of(st.integers(0, top), st.integers(max(0, top - 300), top), st.integers(0, 300)))
    return Counter(width, direction, reset_value), start  # type: ignore[arg-type]


EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("run"), st.integers(1, 30), st.integers(200, 5_000)),  # polls, ms per poll
        st.tuples(st.just("repeat"), st.just(0), st.just(0)),
        st.tuples(st.just("stop"), st.just(0), st.integers(100, 60_000)),
        st.tuples(st.just("reset"), st.just(0), st.integers(100, 10_000)),
        st.tuples(st.just("restart"), st.just(0), st.integers(1_000, 120_000)),
        st.tuples(st.just("outage"), st.integers(1, 100), st.integers(60_000, 4 * 3_600_000)),
    ),
    min_size=1,
    max_size=40,
)


@given(spec=counters(), events=EVENTS, rate=st.floats(0.05, 5.0), data=st.data())
def test_counts_are_exact_or_the_difference_is_held(
    spec: tuple[Counter, int], events: list[tuple[str, int, int]], rate: float, data: st.DataObject
) -> None:
    counter, start = spec
    plc = Plc(counter, start)
    takt = Takt(counter)
    takt.read(plc, plc.now_ms)  # baseline
    range_ = 1 << (counter.width or 64)
    for kind, n, ms in events:
        if kind == "run":
            if not plc.running:
                plc.running, plc.since_ms = True, plc.now_ms + 1
            for _ in range(n):
                plc.now_ms += ms
                plc.make(data.draw(st.integers(0, max(1, int(rate * ms / 1000)))))
                takt.read(plc, plc.now_ms)
        elif kind == "repeat" and takt.state is not None:
            takt.read(plc, takt.state.ts_ms)  # the same reading again: stale
            plc.now_ms += 100
            takt.read(plc, plc.now_ms)  # again later, unchanged
        elif kind in ("stop", "reset", "restart"):
            if plc.running:
                plc.now_ms += 1
                plc.running, plc.since_ms = False, plc.now_ms
            plc.now_ms += ms
            takt.read(plc, plc.now_ms)  # read while stopped, before the reset
            if kind != "stop" and counter.up(counter.reset_value) < counter.up(plc.raw):
                plc.reset()  # (a reset "ahead" of the counter is an increment to anyone: out of the model)
                plc.now_ms += ms
                takt.read(plc, plc.now_ms)
        elif kind == "outage":
            plc.now_ms += ms
            if plc.running:
                plc.make(min(range_ // 2 - 1, int(rate * ms / 1000 * n / 100)))
            takt.read(plc, plc.now_ms)
    assert takt.counted <= plc.made, f"invented {takt.counted - plc.made} parts: {takt.kinds}"
    assert plc.made - takt.counted <= takt.held, (
        f"lost {plc.made - takt.counted} parts silently (held {takt.held}): {takt.kinds}"
    )
    if takt.held == 0:
        assert takt.counted == plc.made


@given(width=st.sampled_from([16, 32, 64]), below_top=st.integers(1, 200), made=st.integers(0, 200))
def test_a_reset_while_stopped_near_the_top_counts_what_was_made_after_it(
    width: int, below_top: int, made: int
) -> None:
    """The issue's case for every width: stopped at top - k, reset to 0, then `made` parts: exactly `made`."""
    counter = Counter(width)
    old = CounterState((1 << width) - below_top, T0)
    reset = step(old, 0, T0 + 2_000, counter=counter, activity=Activity(False, T0 + 1_000))
    assert (reset.kind, reset.increment, reset.held) == (Kind.RESET, 0, 0)
    after = step(reset.state, made, T0 + 60_000, counter=counter, activity=Activity(True, T0 + 3_000))
    assert after.increment == made and after.held == 0

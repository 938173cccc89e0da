"""OEE's pure arithmetic (definitions: docs/oee.md): shift windows in a site's time zone, planned intervals,
stops and micro-stops, the time accounting of planned time from state segments, and the OEE factors.

Works on plain tuples (epoch ms) so every term can be tested by hand; `server.domain.oee` feeds it from the
database.
"""

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_MICRO_STOP_S = 120.0
BUCKET = {
    "running": "run_ms",
    "idle": "idle_ms",
    "blocked": "idle_ms",
    "starved": "idle_ms",
    "off": "idle_ms",  # switched off within planned time: not available, like idle
    "setup": "setup_ms",
    "fault": "fault_ms",
}
Interval = tuple[int, int]
Segment = tuple[str, int, int]  # state, start_ms, end_ms (open segments closed at "now")


@dataclass(frozen=True, slots=True)
class ShiftDef:
    """A shift of the calendar: local times, ISO weekdays and breaks (local start, end)."""

    id: int
    name: str
    start: time
    end: time
    days: frozenset[int]
    breaks: tuple[tuple[time, time], ...] = ()


@dataclass(frozen=True, slots=True)
class Window:
    """One shift on one (local) day: its span in epoch ms and its planned intervals (breaks removed)."""

    shift_id: int
    shift: str
    day: date
    start_ms: int
    end_ms: int
    planned: tuple[Interval, ...]


@dataclass(slots=True)
class Figures:
    """Time accounting and counts; ratios derived on demand. `add` merges shifts into a day or a month."""

    planned_ms: int = 0
    run_ms: int = 0
    idle_ms: int = 0
    setup_ms: int = 0
    fault_ms: int = 0
    unclassified_ms: int = 0
    micro_stops: int = 0
    micro_stop_ms: int = 0
    good: int = 0
    scrap: int = 0
    ideal_ms: float = 0.0
    ideal_known: bool = True

    @property
    def total(self) -> int:
        return self.good + self.scrap

    @property
    def downtime_ms(self) -> int:
        """Planned time not running, micro-stops excluded."""
        return self.planned_ms - self.run_ms - self.micro_stop_ms

    @property
    def availability(self) -> float | None:
        return self.run_ms / self.planned_ms if self.planned_ms > 0 else None

    @property
    def performance(self) -> float | None:
        if self.run_ms <= 0 or not self.ideal_known:
            return None
        return self.ideal_ms / self.run_ms

    @property
    def quality(self) -> float | None:
        return self.good / self.total if self.total > 0 else None

    @property
    def oee(self) -> float | None:
        """A x P x Q; 0 when there is a plan but nothing was made; None when undefined."""
        if self.planned_ms > 0 and self.total == 0:
            return 0.0
        a, p, q = self.availability, self.performance, self.quality
        return None if a is None or p is None or q is None else a * p * q

    def add(self, other: "Figures") -> None:
        for name in ("planned_ms", "run_ms", "idle_ms", "setup_ms", "fault_ms", "unclassified_ms"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.micro_stops += other.micro_stops
        self.micro_stop_ms += other.micro_stop_ms
        self.good += other.good
        self.scrap += other.scrap
        self.ideal_ms += other.ideal_ms
        self.ideal_known = self.ideal_known and other.ideal_known

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            total=self.total, downtime_ms=self.downtime_ms, availability=self.availability,
            performance=self.performance, quality=self.quality, oee=self.oee,
        )  # fmt: skip
        return out


def local_ms(day: date, at: time, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, at, tzinfo=tz).timestamp() * 1000)


def local_span(day: date, start: time, end: time, tz: ZoneInfo) -> Interval:
    """Local [start, end) on `day`; an end at or before the start is on the next day."""
    end_day = day + timedelta(days=1) if end <= start else day
    return local_ms(day, start, tz), local_ms(end_day, end, tz)


def subtract(span: Interval, holes: Iterable[Interval]) -> tuple[Interval, ...]:
    """`span` minus the `holes`, as sorted disjoint intervals."""
    out: list[Interval] = []
    cursor = span[0]
    for s, e in sorted(holes):
        s, e = max(s, span[0]), min(e, span[1])
        if e <= s:
            continue
        if s > cursor:
            out.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < span[1]:
        out.append((cursor, span[1]))
    return tuple(out)


def shift_windows(shifts: Sequence[ShiftDef], tz_name: str, first: date, last: date) -> list[Window]:
    """Every shift occurrence starting on a local day in [first, last], in time order."""
    tz = ZoneInfo(tz_name)
    out: list[Window] = []
    day = first
    while day <= last:
        for sd in shifts:
            if day.isoweekday() not in sd.days:
                continue
            span = local_span(day, sd.start, sd.end, tz)
            holes = []
            for b_start, b_end in sd.breaks:
                b_day = day + timedelta(days=1) if b_start < sd.start else day
                holes.append(local_span(b_day, b_start, b_end, tz))
            out.append(Window(sd.id, sd.name, day, span[0], span[1], subtract(span, holes)))
        day += timedelta(days=1)
    out.sort(key=lambda w: w.start_ms)
    return out


def stops(segments: Sequence[Segment]) -> list[tuple[int, int]]:
    """Maximal stretches of consecutive non-running segments (segments sorted by start)."""
    out: list[tuple[int, int]] = []
    for state, start, end in segments:
        if state == "running":
            continue
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _overlap(a: Interval, planned: Sequence[Interval]) -> int:
    total = 0
    for s, e in planned:
        lo = a[0] if a[0] > s else s
        hi = a[1] if a[1] < e else e
        if hi > lo:
            total += hi - lo
    return total


def account(
    planned: Sequence[Interval],
    segments: Sequence[Segment],
    stop_spans: Sequence[tuple[int, int]],
    micro_stop_ms: int,
) -> Figures:
    """Time accounting of `planned` from the machine's state `segments` and its `stop_spans`."""
    fig = Figures(planned_ms=sum(e - s for s, e in planned))
    buckets = dict.fromkeys(("run_ms", "idle_ms", "setup_ms", "fault_ms", "unclassified_ms"), 0)
    for state, start, end in segments:
        part = _overlap((start, end), planned)
        if part > 0:
            buckets[BUCKET.get(state, "unclassified_ms")] += part
    covered = sum(buckets.values())
    for name, value in buckets.items():
        setattr(fig, name, value)
    fig.unclassified_ms += fig.planned_ms - covered
    for start, end in stop_spans:
        if end - start < micro_stop_ms:
            part = _overlap((start, end), planned)
            if part > 0:
                fig.micro_stops += 1
                fig.micro_stop_ms += part
    return fig


def observed_availability(segments: Sequence[Segment], since: int, now: int) -> float | None:
    """Availability without a shift plan (the boss tile's fallback): the known, not offline, time since
    `since` stands for planned time; the same run / planned ratio as `Figures.availability`."""
    fig = Figures()
    for state, start, end in segments:
        span = max(0, min(end, now) - max(start, since))
        if state != "offline":
            fig.planned_ms += span
        if state == "running":
            fig.run_ms += span
    return fig.availability


def count_into(fig: Figures, good: int, scrap: int, ideal_s: float | None) -> None:
    fig.good += good
    fig.scrap += scrap
    if ideal_s is None:
        fig.ideal_known = fig.ideal_known and good + scrap == 0
    else:
        fig.ideal_ms += ideal_s * 1000 * (good + scrap)

"""What each machine really made: parts (exact per publishing tick), state intervals, counter resets.

Every record carries the wall-clock epoch ms of the tick that made it visible on the servers: a client
that read a counter at tick ts1 and again at ts2 saw exactly parts(since_ms=ts1 + 1, until_ms=ts2 + 1).
"""

import bisect
import json
import os
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class MachineTruth:
    state: str
    started_ms: int
    # ticks at which parts were made, ascending, and the cumulative good and scrap after each: kept for the
    # whole run (any window can be asked for), so as machine integers, 8 B each rather than ~36 B in a list
    ts: "array[int]" = field(default_factory=lambda: array("q"))
    good_cum: "array[int]" = field(default_factory=lambda: array("q"))
    scrap_cum: "array[int]" = field(default_factory=lambda: array("q"))
    states: list[dict[str, Any]] = field(default_factory=list)
    counter_resets: list[dict[str, Any]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.states.append({"state": self.state, "start_ms": self.started_ms, "end_ms": None})

    @property
    def good(self) -> int:
        return self.good_cum[-1] if self.good_cum else 0

    @property
    def scrap(self) -> int:
        return self.scrap_cum[-1] if self.scrap_cum else 0

    def add_parts(self, ts_ms: int, good: int, scrap: int) -> None:
        if not good and not scrap:
            return
        if self.ts and self.ts[-1] == ts_ms:
            self.good_cum[-1] += good
            self.scrap_cum[-1] += scrap
            return
        self.ts.append(ts_ms)
        self.good_cum.append(self.good + good)
        self.scrap_cum.append(self.scrap + scrap)

    def set_state(self, ts_ms: int, state: str, fault_code: int = 0) -> None:
        last = self.states[-1]
        if last["state"] == state:
            return
        if last["start_ms"] == ts_ms:  # a state that lasted less than one tick: merge it away
            self.states.pop()
            if self.states and self.states[-1]["state"] == state:
                self.states[-1]["end_ms"] = None
                self.state = state
                return
        else:
            last["end_ms"] = ts_ms
        entry: dict[str, Any] = {"state": state, "start_ms": ts_ms, "end_ms": None}
        if state == "fault":
            entry["fault_code"] = fault_code
        self.states.append(entry)
        self.state = state

    def cumulative_before(self, ts_ms: int) -> tuple[int, int]:
        """(good, scrap) made at ticks strictly before ts_ms."""
        i = bisect.bisect_left(self.ts, ts_ms)
        return (self.good_cum[i - 1], self.scrap_cum[i - 1]) if i else (0, 0)

    def parts(self, since_ms: int, until_ms: int) -> dict[str, int]:
        g1, s1 = self.cumulative_before(until_ms)
        g0, s0 = self.cumulative_before(since_ms)
        return {"good": g1 - g0, "scrap": s1 - s0}

    def summary(self) -> dict[str, Any]:
        return {"good": self.good, "scrap": self.scrap, "state": self.state, "states": self.states,
                "counter_resets": self.counter_resets, "writes": self.writes}  # fmt: skip


class GroundTruth:
    def __init__(self, started_ms: int, accel: float, machines: dict[str, str]) -> None:
        self.started_ms = started_ms
        self.accel = accel
        self.machines = {mid: MachineTruth(state, started_ms) for mid, state in machines.items()}
        self.faults: list[dict[str, Any]] = []  # every fault applied (scenario or HTTP), in order

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        return {"started_ms": self.started_ms, "now_ms": now_ms, "accel": self.accel,
                "machines": {mid: m.summary() for mid, m in self.machines.items()},
                "faults": self.faults}  # fmt: skip

    def write_file(self, path: Path, now_ms: int) -> None:
        """Atomic rewrite: readers never see a half-written file."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.snapshot(now_ms)), encoding="utf-8")
        os.replace(tmp, path)

"""Whether a machine was running at a counter sample's time, from the state samples applied with it and the
persisted signals before them: the evidence that tells a counter reset from a wrap (docs/ingest.md,
"Counting")."""

import bisect
from dataclasses import dataclass, field

from server.domain import machine_state
from server.domain.counting import UNKNOWN, Activity


@dataclass
class MachineActivity:
    """One machine's running/stopped changes in sample time. `roles` holds the latest state-role values."""

    roles: dict[str, int]
    changes: list[tuple[int, bool | None]] = field(default_factory=list)  # (ts_ms, running), by ts

    def __post_init__(self) -> None:
        self._first = self.running()

    def running(self) -> bool | None:
        """Running by the latest signals (None: the machine has no state signal)."""
        derived = machine_state.derive(
            self.roles.get("state"),
            None if "run" not in self.roles else bool(self.roles["run"]),
            None if "fault" not in self.roles else bool(self.roles["fault"]),
        )
        return None if derived is None else derived == "running"

    def signal(self, role: str, value: int, ts_ms: int) -> None:
        before = self.changes[-1][1] if self.changes else self._first
        self.roles[role] = value
        now = self.running()
        if now != before:
            bisect.insort(self.changes, (ts_ms, now), key=lambda c: c[0])

    def at(self, ts_ms: int) -> Activity:
        """The machine's activity at `ts_ms` (a change at the same time counts as before it)."""
        i = bisect.bisect_right(self.changes, ts_ms, key=lambda c: c[0])
        if i == 0:
            return UNKNOWN if self._first is None else Activity(self._first, None)
        ts, running = self.changes[i - 1]
        return UNKNOWN if running is None else Activity(running, ts)

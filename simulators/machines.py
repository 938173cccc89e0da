"""One machine as a pure state machine in simulated seconds: states, PLC-like counters, analog tags.

No I/O and no clock: the runner advances each machine to a simulated time and reads its tags. Parts
come from a seeded RNG that nothing else draws from, so the same state timeline gives the same parts.
"""

import random
from dataclasses import dataclass, field
from typing import Any

from simulators.config import MachineConfig

STATES: dict[str, int] = {"idle": 0, "setup": 1, "running": 2, "fault": 3, "blocked": 4, "starved": 5}
STATE_NAMES = {v: k for k, v in STATES.items()}
# a PLC's own state numbering and texts (not Takt's): the `plc_state` and `plc_mode` tags
PLC_STATES: dict[str, int] = {"idle": 0, "running": 1, "fault": 2, "setup": 3, "blocked": 4, "starved": 5}
PLC_MODES: dict[str, str] = {"idle": "STOP", "running": "RUN", "fault": "ALARM", "setup": "SETUP",
                             "blocked": "BLOCKED", "starved": "WAIT"}  # fmt: skip
COUNTERS = ("good", "scrap", "total", "shots")
WRITABLE = ("work_order", "setpoint")
# every machine's canonical tags (docs/contracts.md), in the order `Machine.tags()` gives them
TAG_NAMES = (
    "good_count", "scrap_count", "state", "running", "fault", "fault_code", "status_bits", "ambient",
    "total_cycles", "temperature", "pressure", "power", "energy", "program", "work_order", "setpoint",
    "part_count", "shot_count", "plc_state", "plc_mode",
)  # fmt: skip

# kind -> (running temperature °C, running pressure bar, rated power kW)
_PROFILE = {
    "cnc": (38.0, 60.0, 15.0),
    "injection_molding": (220.0, 900.0, 40.0),
    "stamping_press": (45.0, 180.0, 25.0),
    "packaging": (30.0, 6.0, 5.0),
    "assembly": (28.0, 6.0, 3.0),
}
_POWER_SHARE = {"running": 1.0, "setup": 0.3, "idle": 0.15, "blocked": 0.2, "starved": 0.2, "fault": 0.05}


@dataclass
class Transition:
    state: str
    at_s: float  # simulated seconds
    fault_code: int = 0


@dataclass
class Produced:
    good: int = 0
    scrap: int = 0
    transitions: list[Transition] = field(default_factory=list)


class Machine:
    def __init__(self, cfg: MachineConfig, seed: int) -> None:
        self.cfg = cfg
        self._parts_rng = random.Random(f"{seed}:{cfg.id}:parts")
        self._noise_rng = random.Random(f"{seed}:{cfg.id}:noise")
        self._fault_rng = random.Random(f"{seed}:{cfg.id}:faults")
        self._mask = (1 << cfg.counter_width) - 1
        self.state = "running"
        self.sim_t = 0.0
        self.next_part_at = self._cycle()
        self.next_fault_at = self._time_to_fault(0.0)
        self.state_until: float | None = None
        self.after_state = "running"
        self.good_total = self.scrap_total = 0
        self.good_counter = cfg.counter_start
        self.scrap_counter = 0
        self.part_counter = cfg.counter_start  # good + scrap: a PLC's total PartCount
        self.shot_counter = cfg.counter_start  # cycles (shots of the mold): parts / cavities
        self.total_cycles = cfg.total_cycles_start
        self.fault_code = 0
        self.program = cfg.program
        self.work_order = ""
        self.setpoint = 100
        temp, pressure, power = _PROFILE[cfg.kind]
        self.temperature, self.pressure, self.power = temp, pressure, power
        self.energy = 0.0
        self.ambient = cfg.ambient_c
        self._pending = Produced()

    def _cycle(self) -> float:
        j = self.cfg.jitter
        return self.cfg.cycle_time_s * (1 + self._parts_rng.uniform(-j, j))

    def _time_to_fault(self, now: float) -> float | None:
        mtbf = self.cfg.mtbf_s
        return now + self._fault_rng.expovariate(1 / mtbf) if mtbf > 0 else None

    def _next_event(self) -> float | None:
        """The earliest of: a timed state ends, a random fault strikes (only while running)."""
        times = [self.state_until, self.next_fault_at if self.state == "running" else None]
        return min((x for x in times if x is not None), default=None)

    def advance(self, t: float) -> None:
        """Make the parts due up to simulated time t; end timed states and strike random faults on the way."""
        while (at := self._next_event()) is not None and at <= t:
            self._produce(at)
            if self.state_until is not None and self.state_until <= at:
                self.state_until = None
                self._enter(self.after_state, at)
            else:
                code = self._fault_rng.choice(self.cfg.fault_codes)
                self._enter("fault", at, code)
                self.state_until = at + self._fault_rng.expovariate(1 / self.cfg.mttr_s)
                self.after_state = "running"
        self._produce(t)
        self.update_analogs(t - self.sim_t)
        self.sim_t = max(self.sim_t, t)

    def take(self) -> Produced:
        """What happened since the last take(): parts made and state transitions."""
        done, self._pending = self._pending, Produced()
        return done

    def _produce(self, t: float) -> None:
        if self.state != "running":
            return
        mask = self._mask
        while self.next_part_at <= t:
            for _ in range(self.cfg.cavities):
                if self._parts_rng.random() < self.cfg.scrap_probability:
                    self.scrap_total += 1
                    self.scrap_counter = (self.scrap_counter + 1) & mask
                    self._pending.scrap += 1
                else:
                    self.good_total += 1
                    self.good_counter = (self.good_counter + 1) & mask
                    self._pending.good += 1
                self.part_counter = (self.part_counter + 1) & mask
            self.shot_counter = (self.shot_counter + 1) & mask
            self.total_cycles += 1
            self.next_part_at += self._cycle()

    def _enter(self, state: str, at: float, fault_code: int = 0) -> None:
        if state == self.state and fault_code == self.fault_code:
            return
        if state == "running" and self.state != "running":
            self.next_part_at = at + self._cycle()
            self.next_fault_at = self._time_to_fault(at)
        self.state = state
        self.fault_code = fault_code if state == "fault" else 0
        self._pending.transitions.append(Transition(state, at, self.fault_code))

    def set_state(self, state: str, at: float, duration: float | None = None, fault_code: int = 0,
                  then: str = "running") -> None:  # fmt: skip
        """Enter `state` at simulated time `at` (advance() first); with a duration, go to `then` after."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; one of {', '.join(STATES)}")
        self.advance(at)
        self._enter(state, at, fault_code or (1 if state == "fault" else 0))
        self.state_until = at + duration if duration is not None else None
        self.after_state = then

    def reset_counter(self, which: str) -> list[tuple[str, int, int]]:
        """Operator reset to 0; returns (counter, before, after) for each counter touched."""
        return [self.set_counter(name, 0) for name in _counters(which)]

    def set_counter(self, which: str, value: int) -> tuple[str, int, int]:
        if which not in COUNTERS:
            raise ValueError(f"counter must be one of {', '.join(COUNTERS)}")
        if not 0 <= value <= self._mask:
            raise ValueError(f"{value} does not fit a {self.cfg.counter_width}-bit counter")
        attribute = f"{'part' if which == 'total' else 'shot' if which == 'shots' else which}_counter"
        before = getattr(self, attribute)
        setattr(self, attribute, value)
        return which, before, value

    def write(self, tag: str, value: Any) -> None:
        """A client wrote a writable tag."""
        if tag == "work_order":
            self.work_order = str(value)[:20]
        elif tag == "setpoint":
            self.setpoint = int(value) & 0xFFFF
        else:
            raise ValueError(f"{tag} is not writable")

    def update_analogs(self, dt: float) -> None:
        """First-order drift toward the state's operating point, with noise; energy integrates power."""
        temp, pressure, rated = _PROFILE[self.cfg.kind]
        share = _POWER_SHARE[self.state]
        running = self.state == "running"
        alpha = min(1.0, dt / 300.0) if dt > 0 else 0.0
        target_t = temp if running else self.cfg.ambient_c + (temp - self.cfg.ambient_c) * 0.3
        gauss = self._noise_rng.gauss
        self.temperature += (target_t - self.temperature) * alpha + gauss(0, 0.05)
        self.pressure = max(0.0, (pressure if running else pressure * 0.05) * (1 + gauss(0, 0.01)))
        self.power = max(0.0, rated * share * (1 + gauss(0, 0.02)))
        self.energy += self.power * max(dt, 0.0) / 3600.0
        self.ambient = self.cfg.ambient_c + gauss(0, 0.1)

    def tags(self) -> dict[str, Any]:
        """Every canonical tag's current value (docs/contracts.md)."""
        code = STATES[self.state]
        bits = (self.state == "running") | (self.state == "fault") << 1 | (self.state == "setup") << 2
        return {
            "good_count": self.good_counter, "scrap_count": self.scrap_counter, "state": code,
            "running": self.state == "running", "fault": self.state == "fault",
            "fault_code": self.fault_code, "status_bits": bits, "ambient": round(self.ambient * 10),
            "total_cycles": self.total_cycles, "temperature": self.temperature, "pressure": self.pressure,
            "power": self.power, "energy": self.energy, "program": self.program,
            "work_order": self.work_order, "setpoint": self.setpoint, "part_count": self.part_counter,
            "shot_count": self.shot_counter, "plc_state": PLC_STATES[self.state],
            "plc_mode": PLC_MODES[self.state],
        }  # fmt: skip


def _counters(which: str) -> tuple[str, ...]:
    if which == "both":
        return ("good", "scrap")
    if which == "all":
        return COUNTERS
    if which in COUNTERS:
        return (which,)
    raise ValueError(f"counter must be {', '.join(COUNTERS)}, both or all")

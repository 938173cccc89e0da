"""A seeded, deterministic shift script: fault events at plant times (divided by --accel at run time)."""

from collections.abc import Mapping
from pathlib import Path

import msgspec

from simulators.config import convert_file, read_yaml
from simulators.errors import ConfigError, FaultError
from simulators.faults import Duration, FaultRequest, check, parse_duration


class ScenarioEvent(FaultRequest, kw_only=True):
    at: Duration  # plant time since start: 90, "20m", "1h30m"


class ScenarioFile(msgspec.Struct, forbid_unknown_fields=True):
    events: list[ScenarioEvent] = []
    name: str = ""
    start_idle_s: Duration = 0  # every machine idles this long first (plant seconds)
    repeat_every_s: Duration | None = None  # play the events again every this long (an endless demo)


class Scenario(msgspec.Struct):
    """The scenario ready to play: events sorted by `at_s` (stable for equal times)."""

    name: str
    start_idle_s: float
    events: list[tuple[float, FaultRequest]]
    repeat_every_s: float | None = None


def load_scenario(path: Path, machines: Mapping[str, str], units: Mapping[int, str]) -> Scenario:
    raw = read_yaml(path)
    if raw is None:
        raw = {}
    parsed = convert_file(path, raw, ScenarioFile, "expected a mapping with an `events` list")
    events: list[tuple[float, FaultRequest]] = []
    for i, event in enumerate(parsed.events):
        try:
            at = parse_duration(event.at, "at")
            check(event, machines, units)
        except FaultError as err:
            raise ConfigError(str(path), f"events[{i}]", str(err)) from err
        fields = {f: getattr(event, f) for f in FaultRequest.__struct_fields__}
        events.append((at or 0.0, FaultRequest(**fields)))
    idle = _duration(path, parsed.start_idle_s, "start_idle_s") or 0.0
    repeat = _duration(path, parsed.repeat_every_s, "repeat_every_s")
    events.sort(key=lambda e: e[0])
    if repeat is not None and (not events or repeat <= events[-1][0]):
        raise ConfigError(str(path), "repeat_every_s", "must be longer than the last event's `at`")
    return Scenario(parsed.name or path.stem, idle, events, repeat)


def _duration(path: Path, value: Duration | None, field: str) -> float | None:
    try:
        return parse_duration(value, field)
    except FaultError as err:
        raise ConfigError(str(path), field, str(err)) from err

"""Report by exception: which readings become samples.

Counter (any kind), state, run and fault tags report every change and are never deadbanded.
Analog tags report when the value moves by more than the deadband (absolute, or percent of the last
reported value), when the quality changes, and at least every `max_silence_s` so the server knows
the tag is alive. `report: always` reports every reading (benchmarks, fast-changing data).
"""

from __future__ import annotations

from edge.codec import Value
from edge.config import PROTECTED_ROLES, Tag

DEFAULT_MAX_SILENCE_S = 300.0


class Reporter:
    """The per-tag memory of what was last reported."""

    __slots__ = ("absolute", "always", "last_ms", "last_quality", "last_value", "max_silence_ms", "percent")

    def __init__(self, tag: Tag) -> None:
        self.always = tag.report == "always"
        self.absolute = 0.0
        self.percent = 0.0
        if tag.role not in PROTECTED_ROLES and tag.deadband is not None:
            if isinstance(tag.deadband, str):
                self.percent = float(tag.deadband.strip().removesuffix("%")) / 100.0
            else:
                self.absolute = float(tag.deadband)
        self.max_silence_ms = int((tag.max_silence_s or DEFAULT_MAX_SILENCE_S) * 1000)
        self.last_value: Value = None
        self.last_quality = ""
        self.last_ms = 0

    def should_report(self, value: Value, quality: str, now_ms: int) -> bool:
        """True when this reading must become a sample; remembers it if so."""
        if (
            self.always
            or quality != self.last_quality
            or now_ms - self.last_ms >= self.max_silence_ms
            or self._moved(value)
        ):
            self.last_value, self.last_quality, self.last_ms = value, quality, now_ms
            return True
        return False

    def _moved(self, value: Value) -> bool:
        last = self.last_value
        if value == last and type(value) is type(last):
            return False
        if (
            isinstance(value, float | int)
            and isinstance(last, float | int)
            and not isinstance(value, bool)
            and not isinstance(last, bool)
        ):
            limit = self.absolute or self.percent * abs(last)
            return abs(value - last) > limit if limit else True
        return True

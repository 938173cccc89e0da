"""What a reading means: a PLC's state values, bits or booleans -> Takt's state codes (docs/edge.md).

The edge publishes a `state` tag's value as one of `shared.messages.STATE_CODES`, whatever the PLC uses:
an enum with its own numbers or strings (`states`), bits of a status word (`state_bits`, the first set
bit listed wins) or booleans of other tags (`derive`, the first rule whose booleans all match wins), with
`default` for anything else. A value nothing maps is published as null with quality `bad` and logged
once per value: never a guess. A `state` tag with no map carries Takt's codes already.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from edge.codec import Value
from edge.config import Tag, state_key
from shared.messages import STATE_CODES

log = logging.getLogger(__name__)
_NAMES = {code: name for name, code in STATE_CODES.items()}


def state_name(code: Value) -> str | None:
    """Takt's name of a state code (for `takt edge check`)."""
    return _NAMES.get(code) if isinstance(code, int) and not isinstance(code, bool) else None


class StateMap:
    """One `state` tag's map from raw readings to Takt's state codes."""

    def __init__(self, tag: Tag) -> None:
        self.default = STATE_CODES[tag.default] if tag.default else None
        self.states = {k: STATE_CODES[v] for k, v in (tag.states or {}).items()}
        self.folded = {k.casefold(): v for k, v in self.states.items()}
        self.bits = [(bit, STATE_CODES[name]) for bit, name in (tag.state_bits or {}).items()]
        self.rules = [(rule.when, STATE_CODES[rule.state]) for rule in tag.derive or []]

    def __call__(self, raw: Value) -> int | None:
        """The state code of a reading; None when nothing maps it."""
        if raw is None:
            return None
        if self.bits:
            found = self._bits(raw)
        elif self.states:
            found = self._lookup(raw)
        else:
            found = raw if isinstance(raw, int) and not isinstance(raw, bool) and raw in _NAMES else None
        return self.default if found is None else found

    def _lookup(self, raw: Value) -> int | None:
        key = state_key(raw)
        found = self.states.get(key)
        if found is None and isinstance(raw, bool | int) and raw in (0, 1):  # 0/1 and false/true alike
            alias = {"0": "false", "1": "true", "false": "0", "true": "1"}.get(key)
            found = self.states.get(alias) if alias else None
        if found is None and isinstance(raw, str):
            found = self.folded.get(key.casefold())
        return found

    def _bits(self, raw: Value) -> int | None:
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if not isinstance(raw, int):
            return None
        for bit, code in self.bits:
            if (int(raw) >> bit) & 1:
                return code
        return None

    def derive(self, values: Mapping[str, Value]) -> int | None:
        """The state from the latest booleans of the rules' tags, rules in order; None while a rule
        before the first match reads a tag whose value is unknown (or not a boolean)."""
        for when, code in self.rules:
            truths = [_truth(values.get(name)) for name in when]
            if None in truths:
                return None
            if truths == list(when.values()):
                return code
        return self.default


def _truth(value: Value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str) and value.strip().casefold() in ("true", "false", "1", "0", "on", "off"):
        return value.strip().casefold() in ("true", "1", "on")
    return None

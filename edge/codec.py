"""Pure Modbus register codecs: every data type in both word orders and both byte orders.

Orders (docs/contracts.md): `word_order: big` puts the high word first (ABCD), `little` the low word
first (CDAB); `byte_order: little` swaps the two bytes inside each register (BADC, DCBA). Both apply to
multi-register values; strings take the byte order only (2 characters per register, in address
order). A single-register value (int16, uint16, a bit) is byte-swapped only when the tag itself says
`byte_order: little`, so a device default meant for 32-bit values does not scramble its 16-bit ones.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge.config import string_length
from edge.errors import CodecError

Value = int | float | bool | str | None
_WIDE = {"int32": ("i", 2), "uint32": ("I", 2), "float32": ("f", 2), "int64": ("q", 4), "uint64": ("Q", 4)}
_WIDE["float64"] = ("d", 4)
_INT_RANGE = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


def register_count(type_: str) -> int:
    """Registers (or bits, for bool) a type occupies."""
    if type_ in {"bool", "int16", "uint16"}:
        return 1
    if type_ in _WIDE:
        return _WIDE[type_][1]
    length = string_length(type_)
    if length is None:
        raise CodecError(f"unknown type {type_!r}")
    return (length + 1) // 2


def _swap16(word: int) -> int:
    return ((word & 0xFF) << 8) | (word >> 8)


@dataclass(frozen=True, slots=True)
class Codec:
    """How one tag's registers become a value and back. `decode(regs, i)` reads regs[i:i+count]."""

    type: str
    count: int
    decode: Callable[[Sequence[int], int], Value]
    encode: Callable[[Value], list[int]]


def make_codec(
    type_: str,
    word_order: str = "big",
    byte_order: str = "big",
    bit: int | None = None,
    scale: float = 1.0,
    offset: float = 0.0,
    swap_single: bool = False,
) -> Codec:
    """Build the codec for a register tag (coils and discrete inputs need none: they are bools)."""
    count = register_count(type_)
    if bit is not None:
        return _bit_codec(bit, swap_single)
    length = string_length(type_)
    if length is not None:
        return _string_codec(type_, length, byte_order == "little")
    if type_ in {"int16", "uint16"}:
        codec = _int16_codec(type_, swap_single)
    else:
        codec = _wide_codec(type_, count, word_order == "little", byte_order == "little")
    if scale == 1.0 and offset == 0.0:
        return codec
    return _scaled(codec, scale, offset)


def _bit_codec(bit: int, swap: bool) -> Codec:
    def decode(regs: Sequence[int], i: int) -> Value:
        word = _swap16(regs[i]) if swap else regs[i]
        return bool((word >> bit) & 1)

    def encode(value: Value) -> list[int]:
        raise CodecError("a bit of a register cannot be written alone (read-modify-write is not atomic)")

    return Codec("bool", 1, decode, encode)


def _int16_codec(type_: str, swap: bool) -> Codec:
    signed = type_ == "int16"

    def decode(regs: Sequence[int], i: int) -> Value:
        word = _swap16(regs[i]) if swap else regs[i]
        return word - 0x10000 if signed and word >= 0x8000 else word

    def encode(value: Value) -> list[int]:
        word = _to_int(value, type_) & 0xFFFF
        return [_swap16(word) if swap else word]

    return Codec(type_, 1, decode, encode)


def _wide_codec(type_: str, count: int, word_little: bool, byte_little: bool) -> Codec:
    pack = struct.Struct(("<" if byte_little else ">") + f"{count}H")
    unpack = struct.Struct(">" + _WIDE[type_][0])
    is_float = type_.startswith("float")

    def decode(regs: Sequence[int], i: int) -> Value:
        words = regs[i : i + count]
        if word_little:
            words = words[::-1]
        return unpack.unpack(pack.pack(*words))[0]  # type: ignore[no-any-return]

    def encode(value: Value) -> list[int]:
        number = _to_float(value) if is_float else _to_int(value, type_)
        try:
            words = list(pack.unpack(unpack.pack(number)))
        except (struct.error, OverflowError) as err:
            raise CodecError(f"{value!r} does not fit {type_}") from err
        return words[::-1] if word_little else words

    return Codec(type_, count, decode, encode)


def _string_codec(type_: str, length: int, byte_little: bool) -> Codec:
    count = (length + 1) // 2
    pack = struct.Struct(("<" if byte_little else ">") + f"{count}H")

    def decode(regs: Sequence[int], i: int) -> Value:
        raw = pack.pack(*regs[i : i + count])[:length]
        return raw.split(b"\0", 1)[0].rstrip(b" ").decode("utf-8", errors="replace")

    def encode(value: Value) -> list[int]:
        if not isinstance(value, str):
            raise CodecError(f"{type_} needs a string, got {type(value).__name__}")
        raw = value.encode("utf-8")
        if len(raw) > length:
            raise CodecError(f"{value!r} is longer than {length} bytes")
        return list(pack.unpack(raw.ljust(count * 2, b"\0")))

    return Codec(type_, count, decode, encode)


def _scaled(codec: Codec, scale: float, offset: float) -> Codec:
    inner_decode, inner_encode = codec.decode, codec.encode

    def decode(regs: Sequence[int], i: int) -> Value:
        raw = inner_decode(regs, i)
        return round(raw * scale + offset, 9)  # type: ignore[operator]

    def encode(value: Value) -> list[int]:
        raw = (_to_float(value) - offset) / scale
        return inner_encode(raw if codec.type.startswith("float") else round(raw))

    return Codec(codec.type, codec.count, decode, encode)


def _to_int(value: Value, type_: str) -> int:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        raise CodecError(f"{type_} needs a number, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise CodecError(f"{type_} needs a whole number, got {value!r}")
        value = int(value)
    low, high = _INT_RANGE[type_]
    if not low <= value <= high:
        raise CodecError(f"{value} is out of range for {type_} ({low}..{high})")
    return value


def _to_float(value: Value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"needs a number, got {value!r}")
    if not math.isfinite(value):
        raise CodecError(f"needs a finite number, got {value!r}")
    return float(value)


def encode_bool(value: Value) -> bool:
    """A coil write accepts true/false or 0/1."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise CodecError(f"a coil needs true/false, got {value!r}")

"""Codecs against the simulator's own encoder (simulators/registers.py): every type, every order."""

import itertools
import math
import random

import pytest

from edge.codec import make_codec, register_count
from edge.errors import CodecError
from simulators import registers

ORDERS = list(itertools.product(["big", "little"], ["big", "little"]))
KINDS = {"uint32": ("uint", 2), "int32": ("int", 2), "uint64": ("uint", 4), "int64": ("int", 4),
         "float32": ("float", 2), "float64": ("float", 4)}  # fmt: skip
RANGES = {"uint32": (0, 2**32 - 1), "int32": (-(2**31), 2**31 - 1), "uint64": (0, 2**64 - 1),
          "int64": (-(2**63), 2**63 - 1)}  # fmt: skip


def samples(type_: str, rng: random.Random) -> list[float]:
    if type_ in RANGES:
        low, high = RANGES[type_]
        return [low, high, 0, 1, 5_000_000_000 % (high + 1), *(rng.randint(low, high) for _ in range(200))]
    return [0.0, -1.5, 3.25, 1e30, -2.5e-10, *(rng.uniform(-1e6, 1e6) for _ in range(200))]


@pytest.mark.parametrize(("word", "byte"), ORDERS)
@pytest.mark.parametrize("type_", list(KINDS))
def test_wide_types_match_simulator(type_: str, word: str, byte: str) -> None:
    kind, count = KINDS[type_]
    codec = make_codec(type_, word, byte)
    assert codec.count == count == register_count(type_)
    rng = random.Random(f"{type_}{word}{byte}")
    for value in samples(type_, rng):
        regs = registers.encode(kind, value, count, word, byte)  # type: ignore[arg-type]
        padded = [0xDEAD, *regs, 0xBEEF]
        decoded = codec.decode(padded, 1)
        expected = registers.decode(kind, regs, word, byte)  # type: ignore[arg-type]
        if type_ == "float32":
            assert decoded == pytest.approx(expected, rel=1e-7)
        else:
            assert decoded == expected
        assert codec.encode(decoded) == regs


@pytest.mark.parametrize("byte", ["big", "little"])
def test_int16_uint16_and_single_register_swap(byte: str) -> None:
    swap = byte == "little"
    int16 = make_codec("int16", byte_order=byte, swap_single=swap)
    uint16 = make_codec("uint16", byte_order=byte, swap_single=swap)
    for value in [-32768, -45, -1, 0, 1, 221, 32767]:
        regs = registers.encode("int", value, 1, "big", byte)  # type: ignore[arg-type]
        assert int16.decode(regs, 0) == value
        assert int16.encode(value) == regs
    for value in [0, 1, 2, 65535, 40000]:
        regs = registers.encode("uint", value, 1, "big", byte)  # type: ignore[arg-type]
        assert uint16.decode(regs, 0) == value
    # the device default (no swap_single) leaves single registers alone, as the simulator does
    assert make_codec("uint16", byte_order="little").decode([2], 0) == 2


@pytest.mark.parametrize("byte", ["big", "little"])
@pytest.mark.parametrize("text", ["O1001-SHAFT-D40", "", "A", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "odd"])
def test_strings(byte: str, text: str) -> None:
    codec = make_codec("string(32)", word_order="little", byte_order=byte)  # word order never applies
    regs = registers.encode_string(text, 16, byte)  # type: ignore[arg-type]
    assert codec.count == 16
    assert codec.decode(regs, 0) == text
    assert codec.encode(text) == regs
    assert registers.decode_string(codec.encode(text), byte) == text  # type: ignore[arg-type]


def test_string_trims_spaces_and_odd_length() -> None:
    codec = make_codec("string(5)")
    assert codec.count == 3
    assert codec.decode(registers.encode_string("AB  ", 3), 0) == "AB"
    with pytest.raises(CodecError, match="longer than 5"):
        codec.encode("TOO LONG")


def test_bits_scale_and_errors() -> None:
    for bit in range(16):
        codec = make_codec("bool", bit=bit)
        assert codec.decode([1 << bit], 0) is True
        assert codec.decode([0xFFFF ^ (1 << bit)], 0) is False
    assert make_codec("bool", bit=0, swap_single=True).decode([0x0100], 0) is True
    scaled = make_codec("int16", scale=0.1, offset=-1)
    assert scaled.decode([registers.encode("int", -45, 1)[0]], 0) == pytest.approx(-5.5)
    assert scaled.encode(-5.5) == registers.encode("int", -45, 1)
    with pytest.raises(CodecError, match="out of range"):
        make_codec("uint16").encode(70000)
    with pytest.raises(CodecError, match="whole number"):
        make_codec("int32").encode(1.5)
    with pytest.raises(CodecError, match="does not fit"):
        make_codec("float32").encode(1e300)
    with pytest.raises(CodecError, match="finite"):
        make_codec("float64").encode(math.inf)
    with pytest.raises(CodecError):
        make_codec("bool", bit=3).encode(True)

"""registers.py: word and byte order layouts, round trips, strings."""

import math

import pytest

from simulators.registers import decode, decode_string, encode, encode_string


@pytest.mark.parametrize(
    ("word_order", "byte_order", "expected"),
    [("big", "big", [0x1234, 0x5678]), ("little", "big", [0x5678, 0x1234]),
     ("big", "little", [0x3412, 0x7856]), ("little", "little", [0x7856, 0x3412])],
)  # fmt: skip
def test_uint32_layouts(word_order: str, byte_order: str, expected: list[int]) -> None:
    assert encode("uint", 0x12345678, 2, word_order, byte_order) == expected  # type: ignore[arg-type]


def test_int64_and_float64_layout_and_round_trip() -> None:
    assert encode("int", 0x0102030405060708, 4) == [0x0102, 0x0304, 0x0506, 0x0708]
    assert encode("int", 0x0102030405060708, 4, "little", "little") == [0x0807, 0x0605, 0x0403, 0x0201]
    for wo in ("big", "little"):
        for bo in ("big", "little"):
            assert decode("int", encode("int", -5, 4, wo, bo), wo, bo) == -5  # type: ignore[arg-type]
            words = encode("float", math.pi, 4, wo, bo)  # type: ignore[arg-type]
            assert decode("float", words, wo, bo) == math.pi  # type: ignore[arg-type]


def test_uint_wraps_and_int16_negative() -> None:
    assert encode("uint", 65536 + 3, 1) == [3]
    assert encode("int", -123, 1) == [0xFF85]
    assert decode("int", [0xFF85]) == -123


def test_float32_known_value() -> None:
    assert encode("float", 1.0, 2) == [0x3F80, 0x0000]
    assert encode("float", 1.0, 2, "little", "big") == [0x0000, 0x3F80]


def test_strings_pairs_padding_and_byte_swap() -> None:
    assert encode_string("ABC", 3) == [0x4142, 0x4300, 0x0000]
    assert encode_string("ABC", 3, "little") == [0x4241, 0x0043, 0x0000]
    assert decode_string(encode_string("O1001-SHAFT", 16, "little"), "little") == "O1001-SHAFT"
    assert len(encode_string("X" * 40, 16)) == 16  # cut to 32 bytes

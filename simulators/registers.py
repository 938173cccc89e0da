"""Values to Modbus registers and back, with per-machine word and byte order.

Pure functions, no I/O: the edge can mirror them. Multi-register values are first laid out big-endian
(ABCD); `word_order="little"` reverses the 16-bit words (CDAB), `byte_order="little"` swaps the two
bytes inside every register (BADC; both little gives DCBA). Strings are two characters per register,
first character in the high byte; `byte_order="little"` swaps each pair (word order does not apply).
"""

import struct
from typing import Literal

Order = Literal["big", "little"]


def _words(raw: bytes, word_order: Order, byte_order: Order) -> list[int]:
    if byte_order == "little":
        words = [raw[i + 1] << 8 | raw[i] for i in range(0, len(raw), 2)]
    else:
        words = [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]
    return words[::-1] if word_order == "little" else words


def _raw(words: list[int], word_order: Order, byte_order: Order) -> bytes:
    ordered = words[::-1] if word_order == "little" else words
    if byte_order == "little":
        return b"".join(bytes((w & 0xFF, w >> 8)) for w in ordered)
    return b"".join(bytes((w >> 8, w & 0xFF)) for w in ordered)


_FORMATS = {("uint", 2): ">I", ("int", 2): ">i", ("uint", 4): ">Q", ("int", 4): ">q",
            ("float", 2): ">f", ("float", 4): ">d", ("uint", 1): ">H", ("int", 1): ">h"}  # fmt: skip


def encode(kind: Literal["uint", "int", "float"], value: float, count: int, word_order: Order = "big",
           byte_order: Order = "big") -> list[int]:  # fmt: skip
    """`value` as `count` registers (1, 2 or 4). Unsigned values wrap at their width."""
    fmt = _FORMATS[(kind, count)]
    if kind == "uint":
        value = int(value) % (1 << (16 * count))
    elif kind == "int":
        value = int(value)
    return _words(struct.pack(fmt, value), word_order, byte_order)


def decode(kind: Literal["uint", "int", "float"], words: list[int], word_order: Order = "big",
           byte_order: Order = "big") -> float:  # fmt: skip
    """The inverse of encode(); the number of registers follows from len(words)."""
    value: float = struct.unpack(_FORMATS[(kind, len(words))], _raw(words, word_order, byte_order))[0]
    return value


def encode_string(text: str, count: int, byte_order: Order = "big") -> list[int]:
    """`text` as `count` registers of ASCII byte pairs, NUL padded, cut to 2*count bytes."""
    raw = text.encode("ascii", "replace")[: 2 * count].ljust(2 * count, b"\0")
    return _words(raw, "big", byte_order)


def decode_string(words: list[int], byte_order: Order = "big") -> str:
    """The inverse of encode_string(); trailing NULs are dropped."""
    return _raw(words, "big", byte_order).split(b"\0", 1)[0].decode("ascii", "replace")

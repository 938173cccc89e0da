"""Pure Modbus read planner: coalesce tags into as few requests as possible.

Items (a tag's address and register count) of one table are sorted and merged greedily into blocks:
an item joins the open block when the hole before it is at most `max_gap` registers and the block
stays within `max_count` registers (125 for registers, 2000 for bits by the Modbus spec). Reading a
few unused registers is cheaper than one more round trip; `max_gap: 0` reads only what tags use
(some devices answer exception 02 for any unmapped register inside a range).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Item:
    key: int  # caller's handle (an index into its tag list)
    address: int
    count: int

    @property
    def end(self) -> int:
        return self.address + self.count


@dataclass(frozen=True, slots=True)
class Block:
    start: int
    count: int
    items: tuple[Item, ...]

    @property
    def end(self) -> int:
        return self.start + self.count


def plan(items: Iterable[Item], max_count: int, max_gap: int) -> list[Block]:
    """Blocks covering every item, in address order. An item larger than max_count is a ValueError."""
    ordered = sorted(items, key=lambda item: (item.address, item.count))
    blocks: list[Block] = []
    current: list[Item] = []
    start = end = 0
    for item in ordered:
        if item.count > max_count:
            raise ValueError(f"item at {item.address} needs {item.count} registers, more than {max_count}")
        new_end = max(end, item.end)
        if current and item.address - end <= max_gap and new_end - start <= max_count:
            current.append(item)
            end = new_end
            continue
        if current:
            blocks.append(Block(start, end - start, tuple(current)))
        current, start, end = [item], item.address, item.end
    if current:
        blocks.append(Block(start, end - start, tuple(current)))
    return blocks


def split(block: Block) -> list[Block]:
    """Halve a failing block (by items) so a bad address can be found in log2(n) requests.

    The halves are planned without gap filling: a gap register may be the bad one."""
    if len(block.items) <= 1:
        return [block]
    middle = len(block.items) // 2
    halves: Sequence[tuple[Item, ...]] = (block.items[:middle], block.items[middle:])
    result: list[Block] = []
    for half in halves:
        result.extend(plan(half, block.count, 0))
    return result

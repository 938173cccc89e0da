"""The Modbus read planner: fewest requests, gaps up to max_gap, never beyond max_count."""

import itertools
import random

import pytest

from edge.planner import Item, plan, split


def items(*spans: tuple[int, int]) -> list[Item]:
    return [Item(i, address, count) for i, (address, count) in enumerate(spans)]


def test_contiguous_and_gap_filling() -> None:
    tags = items((0, 2), (2, 2), (4, 1), (8, 4), (20, 16))
    assert [(b.start, b.count) for b in plan(tags, 125, 0)] == [(0, 5), (8, 4), (20, 16)]
    assert [(b.start, b.count) for b in plan(tags, 125, 3)] == [(0, 12), (20, 16)]
    assert [(b.start, b.count) for b in plan(tags, 125, 8)] == [(0, 36)]


def test_max_count_and_overlap() -> None:
    tags = items(*((address, 2) for address in range(0, 300, 2)))
    blocks = plan(tags, 125, 10)
    assert all(b.count <= 125 for b in blocks)
    assert sum(len(b.items) for b in blocks) == 150
    assert len(blocks) == 3
    overlapping = plan(items((0, 4), (1, 1), (3, 2)), 125, 0)
    assert [(b.start, b.count) for b in overlapping] == [(0, 5)]
    with pytest.raises(ValueError, match="more than 125"):
        plan(items((0, 126)), 125, 0)


def test_random_plans_cover_everything_within_limits() -> None:
    rng = random.Random(7)
    for _ in range(200):
        tags = items(*((rng.randint(0, 2000), rng.choice([1, 2, 4, 16])) for _ in range(rng.randint(1, 80))))
        max_count, gap = rng.choice([16, 60, 125]), rng.randint(0, 20)
        blocks = plan(tags, max_count, gap)
        assert sorted(i.key for b in blocks for i in b.items) == sorted(i.key for i in tags)
        for block in blocks:
            assert block.count <= max_count
            assert all(block.start <= i.address and i.end <= block.end for i in block.items)
        for a, b in itertools.pairwise(blocks):
            assert b.start >= a.start
            merged = max(a.end, b.end) - a.start
            assert b.start - a.end > gap or merged > max_count  # greedy: could not have merged


def test_split_halves_without_gaps() -> None:
    block = plan(items((0, 1), (5, 1), (10, 1), (11, 1)), 125, 10)[0]
    parts = split(block)
    assert [(p.start, p.count) for p in parts] == [(0, 1), (5, 1), (10, 2)]
    single = plan(items((7, 2)), 125, 0)[0]
    assert split(single) == [single]

"""The server's clock: the wall clock, unless a test fixes it (`fixed`) to read the pages at a chosen instant
(docs/pages.md, "Times"). Everything that asks for "now" (`server.models.types.utcnow`/`now_ms`) asks here."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

log = logging.getLogger(__name__)
_fixed: datetime | None = None


def utcnow() -> datetime:
    return _fixed if _fixed is not None else datetime.now(UTC)


def now_ms() -> int:
    return int(utcnow().timestamp() * 1000)


def set_fixed(at: datetime | None) -> None:
    """Stop the clock at `at` (aware), or let it run again with None."""
    global _fixed
    if at is not None and at.tzinfo is None:
        raise ValueError("a fixed clock needs an aware datetime")
    _fixed = at.astimezone(UTC) if at is not None else None
    log.info("server clock %s", f"fixed at {_fixed.isoformat()}" if _fixed else "follows the wall clock")


@contextmanager
def fixed(at: datetime) -> Iterator[None]:
    before = _fixed
    set_fixed(at)
    try:
        yield
    finally:
        set_fixed(before)

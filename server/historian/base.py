"""The historian interface (docs/historian.md): time series of machine tags behind one small protocol."""

from collections.abc import Sequence
from typing import Literal, NamedTuple, Protocol

Aggregate = Literal["avg", "min", "max"]
AGGREGATES: tuple[Aggregate, ...] = ("avg", "min", "max")


class Point(NamedTuple):
    """One numeric sample of a machine's tag (a NamedTuple: ingestion makes millions of them)."""

    site: str
    machine: str
    tag: str
    ts_ms: int
    value: float


class Historian(Protocol):
    """Every backend: sql (same database), influxdb, victoriametrics."""

    name: str

    def write(self, points: Sequence[Point]) -> None:
        """Store `points`; raise HistorianError when the store cannot be reached."""

    def query(
        self,
        site: str,
        machine: str,
        tag: str,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        agg: Aggregate = "avg",
    ) -> list[tuple[int, float]]:
        """One `(bucket_start_ms, value)` per non-empty bucket of `step_ms` in [start_ms, end_ms)."""

    def latest(self, site: str, machine: str, tag: str) -> tuple[int, float] | None:
        """The newest `(ts_ms, value)` of a series, or None."""

    def apply_retention(self, now_ms: int) -> int:
        """Delete what retention allows; return how many rows went (0 where the store does it itself)."""

    def close(self) -> None: ...

"""The wire codec: msgspec against stdlib json on a 100-sample batch."""

import json
import time
from collections.abc import Callable

from bench.table import Table
from shared.messages import DataBatch, Sample, decode, encode


def _rate(fn: Callable[[], object], seconds: float = 0.5) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            fn()
        count += 100
    return count / (time.perf_counter() - start)


def run() -> Table:
    batch = DataBatch(
        edge_id="bench", seq=1, sent_ms=1_700_000_000_000,
        samples=[Sample(f"m{i % 6}", f"tag_{i}", 1_700_000_000_000 + i, i * 1.5) for i in range(100)],
    )  # fmt: skip
    raw = encode(batch)
    as_dict = json.loads(raw)
    table = Table("shared: codec, 100-sample batch")
    stdlib_round_trip = _rate(lambda: json.loads(json.dumps(as_dict)))
    table.add("round trips/s, msgspec (validated)", _rate(lambda: decode(DataBatch, encode(batch))),
              "msg/s", stdlib_round_trip, "stdlib json (unvalidated)")  # fmt: skip
    table.add("round trips/s, stdlib json", stdlib_round_trip, "msg/s")
    table.add("payload size", len(raw), "bytes")
    return table

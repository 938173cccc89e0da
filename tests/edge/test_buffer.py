"""The SQLite outbox: seq allocation, acks, kill -9 safety, the drop policy, disk full."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgspec
import pytest

from edge.buffer import Outbox
from edge.errors import OutboxError
from edge.pipeline import AsyncOutbox, Batcher

ROLES = {("m1", "good"): "counter", ("m1", "state"): "state", ("m1", "temp"): "analog"}


def batch(i: int, analog: int = 20) -> list[tuple[str, str, int, object, str]]:
    rows: list[tuple[str, str, int, object, str]] = [
        ("m1", "good", 1000 + i, i, "good"),
        ("m1", "state", 1000 + i, 2, "good"),
    ]
    rows += [("m1", "temp", 1000 + i, 20.0 + j / 7, "good") for j in range(analog)]
    return rows


def open_outbox(path: Path, **kwargs: float) -> Outbox:
    outbox = Outbox(path, **kwargs)  # type: ignore[arg-type]
    outbox.roles = dict(ROLES)
    return outbox


def decoded(outbox: Outbox) -> list[tuple[int, list[list[object]]]]:
    return [(s.seq, msgspec.json.decode(s.samples)) for s in outbox.pending(0, 1_000_000)]


def test_seq_allocation_ack_and_reopen(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path / "o.db")
    assert [outbox.append(batch(i)) for i in range(5)] == [1, 2, 3, 4, 5]
    assert [s.seq for s in outbox.pending(2, 10)] == [3, 4, 5]
    assert outbox.ack(3) == 3 and outbox.depth == 2
    assert outbox.ack(2) == 0  # old acks are no-ops
    outbox.close()
    again = open_outbox(tmp_path / "o.db")
    assert (again.next_seq, again.acked_seq, again.depth) == (6, 3, 2)
    assert [s.seq for s in again.pending(0, 10)] == [4, 5]
    assert again.append(batch(9)) == 6


@pytest.mark.faults
def test_ack_beyond_our_seqs_renumbers_instead_of_deleting(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path / "o.db")  # a fresh outbox; the server knows this edge up to 500
    for i in range(5):
        outbox.append(batch(i))
    outbox.ack(2)
    assert outbox.ack(500) == 0
    rows = decoded(outbox)
    assert [seq for seq, _ in rows] == [501, 502, 503], "kept, in order, after the server's seq"
    assert [samples[0][3] for _, samples in rows] == [2, 3, 4]
    assert outbox.append(batch(9)) == 504
    outbox.close()
    assert Outbox(tmp_path / "o.db").next_seq == 505


@pytest.mark.faults
def test_kill_9_while_appending_never_reuses_or_skips(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    script = textwrap.dedent(f"""
        from edge.buffer import Outbox
        outbox = Outbox({str(path)!r})
        print("ready", flush=True)
        while True:
            seq = outbox.next_seq
            assert outbox.append([("m1", "good", seq, seq, "good")]) == seq
            if seq % 50 == 0:
                outbox.ack(seq - 20)
    """)
    last_next = 1
    for _round in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=Path(__file__).parents[2]
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        outbox = Outbox(path)
        seqs = [s.seq for s in outbox.pending(0, 1_000_000)]
        assert seqs == list(range(outbox.acked_seq + 1, outbox.next_seq)), "rows must be contiguous"
        values = [msgspec.json.decode(s.samples)[0][3] for s in outbox.pending(0, 1_000_000)]
        assert values == seqs, "each batch kept the seq it was stored with"
        assert outbox.next_seq > last_next, "seq continues after the kill"
        last_next = outbox.next_seq
        outbox.close()


@pytest.mark.faults
def test_over_budget_drops_oldest_analog_first(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path / "o.db", max_bytes=40_000)
    for i in range(100):
        outbox.append(batch(i))
    assert outbox.bytes <= 40_000
    rows = decoded(outbox)
    assert [seq for seq, _ in rows] == list(range(1, 101)), "no batch is deleted before its ack"
    counters = [s[3] for _, samples in rows for s in samples if s[1] == "good"]
    assert counters == list(range(100)), "every counter sample kept"
    assert sum(1 for _, samples in rows for s in samples if s[1] == "state") == 100
    analog_per_row = [sum(1 for s in samples if s[1] == "temp") for _, samples in rows]
    assert analog_per_row[0] == 0 and analog_per_row[-1] == 20, "oldest analog dropped first"
    assert outbox.dropped["analog"] == 100 * 20 - sum(analog_per_row)
    assert "counter" not in outbox.dropped and "state" not in outbox.dropped
    stripped = [1000 + seq - 1 for (seq, _), n in zip(rows, analog_per_row, strict=True) if n < 20]
    assert outbox.dropped_span == (stripped[0], stripped[-1]), "the sample times the trends lose"
    outbox.close()
    reopened = Outbox(tmp_path / "o.db")
    assert reopened.dropped == {"analog": 100 * 20 - sum(analog_per_row)}  # persisted
    assert reopened.dropped_span == (stripped[0], stripped[-1])
    reopened.ack(99)
    assert reopened.dropped_span is not None, "one batch still waits: the span stays"
    reopened.ack(100)
    assert reopened.dropped_span is None, "all delivered: the next drop starts a new span"
    reopened.close()
    assert Outbox(tmp_path / "o.db").dropped_span is None


@pytest.mark.faults
def test_only_counters_left_keeps_every_part(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path / "o.db", max_bytes=10_000)
    values = [65530 + i for i in range(6)] + list(range(0, 500))  # a 16-bit wrap at the start
    for i, value in enumerate(values):
        outbox.append([("m1", "good", i, value, "good"), ("m1", "state", i, i % 3, "good")])
    rows = decoded(outbox)
    kept = [s[3] for _, samples in rows for s in samples if s[1] == "good"]
    assert kept[-1] == 499
    assert 65535 in kept and 0 in kept, "the samples around a wrap survive"
    assert kept == sorted(kept, key=lambda v: (v < 60000, v)), "still in order"
    assert len([s for _, samples in rows for s in samples if s[1] == "state"]) == len(values)
    assert outbox.dropped.get("counter", 0) == len(values) - len(kept) > 0


@pytest.mark.faults
def test_age_strips_analog_but_keeps_counters(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path / "o.db", max_age_s=60)
    old = int(time.time() * 1000) - 120_000
    outbox.append(batch(1), created_ms=old)
    outbox.append(batch(2))
    outbox.enforce_bounds()
    rows = decoded(outbox)
    assert [len(samples) for _, samples in rows] == [2, 22]
    assert outbox.dropped == {"analog": 20}


@pytest.mark.faults
def test_disk_full_is_counted_and_recovered(tmp_path: Path) -> None:
    async def scenario() -> None:
        raw = open_outbox(tmp_path / "o.db")
        raw.append(batch(0))
        outbox = AsyncOutbox(raw)
        stored: list[int] = []
        batcher = Batcher(outbox, 5000, 10, stored.append)
        page_count = raw.db.execute("PRAGMA page_count").fetchone()[0]
        raw.db.execute(f"PRAGMA max_page_count = {page_count}")  # the "disk" is now full
        for row in batch(1, analog=2000):
            batcher.add(row)
        await batcher.flush()
        assert raw.disk_full_errors >= 1 and stored == []
        assert [r[1] for r in batcher.held] == ["good", "state"], "counter and state held for later"
        assert raw.dropped["analog"] == 2000
        raw.db.execute("PRAGMA max_page_count = 1000000")
        batcher.add(("m1", "good", 2000, 2, "good"))
        await batcher.flush()
        assert stored == [2]
        assert [s[3] for s in msgspec.json.decode(raw.pending(1, 1)[0].samples)] == [1, 2, 2]
        outbox.close()
        await outbox.ack(2)  # an ack arriving while the agent stops: left for the next start, no error

    asyncio.run(scenario())


def test_unwritable_path_is_an_outbox_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox(tmp_path / "file" / "o.db")


@pytest.mark.faults
def test_only_state_samples_are_kept_over_budget(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    outbox = open_outbox(tmp_path / "o.db", max_bytes=10_000)
    for i in range(400):
        outbox.append([("m1", "state", i, i % 6, "good")] * 3)
    assert outbox.over_budget and outbox.bytes > 10_000
    assert sum(len(samples) for _, samples in decoded(outbox)) == 1200, "no state sample dropped"
    assert outbox.dropped == {}
    assert sum("only counter/state samples left" in m for m in caplog.messages) == 1, "logged once"
    outbox.ack(400)
    outbox.append([("m1", "state", 401, 1, "good")])
    assert not outbox.over_budget

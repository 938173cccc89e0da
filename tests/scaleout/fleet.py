"""Many simulated edges in one process: the real edge agent (disk outbox, batcher, MQTT publisher with
its ack window and ack-timeout resend) with a counter machine feeding it instead of a PLC.

Twenty real agents plus simulators would not fit on two cores; the part of an edge that scale-out
exercises is what it publishes and how it reacts to acks, and that is the real code here: `edge.agent.Agent`
with no devices, its batcher fed by `CounterMachine.tick()`. Each machine keeps its own ground truth: the
parts made after its first (baseline) sample, through a 16-bit wrap and an operator reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge.agent import Agent
from edge.buffer import SampleRow
from edge.config import Batching, Broker, Buffer, EdgeConfig, Publishing

WIDTH = 1 << 16


@dataclass
class CounterMachine:
    """A PLC's good and scrap counters (16 bits): they start near the top and wrap, and the operator
    zeroes the good counter once after `reset_after` ticks (while it reads >= 10, so the drop cannot
    pass for a wrap and the reset is visible)."""

    code: str
    rng: random.Random
    reset_after: int | None = None
    good: int = WIDTH - 40
    scrap: int = 3
    ticks: int = 0
    made_good: int = 0  # parts made after the baseline sample: what the server must count
    made_scrap: int = 0
    resets: int = 0
    last_ts: int = 0

    def tick(self) -> list[SampleRow]:
        ts = max(self.last_ts + 1, int(time.time() * 1000))
        self.last_ts = ts
        if self.ticks:  # the first sample is the server's baseline: nothing made before it counts
            if self.reset_after is not None and self.ticks >= self.reset_after and 10 <= self.good < 60_000:
                self.good, self.reset_after = 0, None
                self.resets += 1
            good, scrap = self.rng.randint(0, 3), int(self.rng.random() < 0.15)
            self.good, self.scrap = (self.good + good) % WIDTH, (self.scrap + scrap) % WIDTH
            self.made_good += good
            self.made_scrap += scrap
        self.ticks += 1
        return [
            (self.code, "good_count", ts, self.good, "good"),
            (self.code, "scrap_count", ts, self.scrap, "good"),
            (self.code, "temperature", ts, round(20 + self.rng.random() * 5, 2), "good"),
        ]


def edge_config(edge_id: str, broker_port: int, workdir: Path) -> EdgeConfig:
    """Short timeouts so a resend after a lost delivery happens within a test."""
    return EdgeConfig(
        site="demo",
        edge_id=edge_id,
        broker=Broker(port=broker_port, keepalive=5, reconnect_max_s=1),
        buffer=Buffer(path=str(workdir / f"{edge_id}.db"), fsync="normal"),
        batching=Batching(max_samples=500, max_delay_ms=50),
        publishing=Publishing(max_inflight=50, replay_rate=1000, ack_timeout_s=1.0, status_interval_s=5),
    )


@dataclass
class SimulatedEdge:
    edge_id: str
    machine: CounterMachine
    agent: Agent
    samples: int = 0

    @property
    def last_seq(self) -> int:
        return self.agent.outbox.outbox.next_seq - 1

    @property
    def acked(self) -> int:
        publisher = self.agent.publisher
        return publisher.acked if publisher is not None else 0

    @property
    def depth(self) -> int:
        return self.agent.outbox.outbox.depth


@dataclass
class Fleet:
    """`edges` maps edge id -> machine code. start() runs every agent and machine in a thread's event loop;
    stop_production() stops the machines (the agents keep publishing and resending); close() stops all."""

    edges: dict[str, str]
    broker_port: int
    workdir: Path
    period_s: float = 0.2
    seed: int = 10
    members: dict[str, SimulatedEdge] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _producing: bool = True
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="edge-fleet", daemon=True)
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError(f"the edge fleet did not start: {self._error!r}")

    def stop_production(self) -> None:
        self._producing = False

    def close(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            for member in self.members.values():
                self._loop.call_soon_threadsafe(member.agent.stop)
            self._thread.join(30)
        if self._error is not None:
            raise self._error

    def acked(self) -> dict[str, int]:
        return {edge: member.acked for edge, member in self.members.items()}

    def undelivered(self) -> list[str]:
        """Edges whose batches are not all stored, published and acked (the outbox not empty)."""
        return [
            f"{edge}: acked {m.acked} of {m.last_seq}, {m.depth} in the outbox"
            for edge, m in self.members.items()
            if m.acked != m.last_seq or m.depth or m.agent.batcher.rows
        ]

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported by close()
            self._error = err
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        rng = random.Random(self.seed)
        for i, (edge_id, code) in enumerate(sorted(self.edges.items())):
            machine = CounterMachine(code, random.Random(rng.random()), reset_after=30 if i % 2 else None)
            agent = Agent(edge_config(edge_id, self.broker_port, self.workdir))
            self.members[edge_id] = SimulatedEdge(edge_id, machine, agent)
        async with asyncio.TaskGroup() as group:
            for member in self.members.values():
                group.create_task(member.agent.run(), name=f"agent-{member.edge_id}")
                group.create_task(self._produce(member), name=f"machine-{member.edge_id}")
            self._ready.set()

    async def _produce(self, member: SimulatedEdge) -> None:
        await asyncio.sleep(random.random() * self.period_s)  # spread the edges over the period
        while self._producing and not member.agent.stopping.is_set():
            for row in member.machine.tick():
                member.agent.batcher.add(row)
                member.samples += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.period_s):
                    await member.agent.stopping.wait()

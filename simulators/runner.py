"""The simulation loop: ticks machines, plays the scenario, applies faults, feeds both servers."""

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.config import PlantConfig
from simulators.errors import FaultError
from simulators.fault_actions import apply
from simulators.faults import FaultRequest, check
from simulators.ground_truth import GroundTruth
from simulators.machines import STATE_NAMES, Machine
from simulators.modbus_rtu import RtuLink
from simulators.modbus_server import ModbusPlant
from simulators.opcua_server import OpcuaPlant, now_utc
from simulators.scenario import Scenario

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    accel: float = 1.0
    seed: int = 1
    host: str = "127.0.0.1"
    opcua_port: int = 4840
    modbus_port: int = 5020
    http_port: int = 8081
    state_dir: Path = Path("var/sim")
    ground_truth_file: Path | None = None
    scenario: Scenario | None = None
    rtu_path: Path | None = None  # Modbus RTU: the client end of a socat pty pair


class Runner:
    def __init__(self, plant: PlantConfig, opts: RunOptions) -> None:
        self.plant, self.opts = plant, opts
        self.machines = {m.id: Machine(m, opts.seed) for m in plant.machines}
        self.protocols = {m.id: m.protocol for m in plant.machines}
        self.units = {m.unit_id: m.id for m in plant.machines if m.unit_id is not None}
        self.modbus = ModbusPlant(plant.machines, opts.modbus_port, opts.host, self.on_write)
        self.opcua = OpcuaPlant(plant.machines, opts.opcua_port, opts.host, opts.state_dir, self.on_write,
                                plant.opcua_namespaces_before)  # fmt: skip
        self.rtu = RtuLink(self.modbus.context, opts.rtu_path) if opts.rtu_path else None
        self.events = list(opts.scenario.events) if opts.scenario else []
        self.repeat = opts.scenario.repeat_every_s if opts.scenario else None
        self.freezes: dict[str, dict[str, Any]] = {mid: {} for mid in self.machines}
        self.freeze_until: dict[tuple[str, str], float] = {}
        self.t0 = time.monotonic()
        self.started_ms = int(time.time() * 1000)
        self.gt = GroundTruth(self.started_ms, opts.accel, {mid: "running" for mid in self.machines})
        self.ready = False
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.last_ts = self.started_ms

    # -- clock ------------------------------------------------------------------------------------
    def now(self) -> tuple[int, float]:
        """(wall-clock epoch ms, simulated seconds since start) of this instant."""
        elapsed = time.monotonic() - self.t0
        return self.started_ms + int(elapsed * 1000), elapsed * self.opts.accel

    def stamp(self) -> int:
        """A tick timestamp: now in epoch ms, strictly after every earlier stamp (records never tie)."""
        self.last_ts = max(self.now()[0], self.last_ts + 1)
        return self.last_ts

    def wall_s(self, plant_s: float | None) -> float | None:
        return None if plant_s is None else plant_s / self.opts.accel

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.modbus.start()
        if self.rtu is not None:
            await self.rtu.start()
        await self.opcua.start()
        self.t0, self.started_ms = time.monotonic(), int(time.time() * 1000)
        self.last_ts = self.started_ms
        idle = self.opts.scenario.start_idle_s if self.opts.scenario else 0.0
        for machine in self.machines.values():
            if idle > 0:
                machine.set_state("idle", 0.0, idle)
            machine.take()  # the initial state is the ground truth's first interval, not a transition
        self.gt = GroundTruth(
            self.started_ms, self.opts.accel, {m: x.state for m, x in self.machines.items()}
        )
        await self.tick()
        self.ready = True

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.opcua.stop()
        await self.modbus.stop()
        if self.rtu is not None:
            await self.rtu.stop()
        self.write_ground_truth()

    async def loop(self) -> None:
        """Tick every tick_ms and rewrite the ground-truth file every second, until cancelled."""
        period = self.plant.tick_ms / 1000
        next_tick, next_file = time.monotonic(), time.monotonic() + 1.0
        while True:
            next_tick += period
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            if time.monotonic() - next_tick > 1.0:  # fell far behind (suspended?): don't burst-catch-up
                next_tick = time.monotonic()
            try:
                await self.tick()
            except Exception:  # a bug in one tick must not freeze the plant: log it, keep ticking
                log.exception("tick failed")
            if time.monotonic() >= next_file:
                self.write_ground_truth()
                next_file = time.monotonic() + 1.0

    def write_ground_truth(self) -> None:
        """Rewrite the file as of the last tick (nothing is written if the simulation never started)."""
        if self.opts.ground_truth_file is not None and self.ready:
            try:
                self.gt.write_file(self.opts.ground_truth_file, self.last_ts)
            except OSError as err:
                log.error("cannot write ground truth %s: %s", self.opts.ground_truth_file, err)

    # -- the tick ---------------------------------------------------------------------------------
    async def tick(self) -> None:
        async with self.lock:
            sim = self.now()[1]
            while self.events and self.events[0][0] <= sim:
                at, req = self.events.pop(0)
                if self.repeat is not None:  # the same event, one period later (stays sorted)
                    self.events.append((at + self.repeat, req))
                log.info("scenario at %.0f s: %s %s", at, req.action, req.machine or req.protocol or "")
                try:
                    await self._apply(req, at)
                except FaultError as err:  # validated at load; a leftover problem skips only this event
                    log.error("scenario event at %.0f s skipped: %s", at, err)
            ts = self.stamp()
            self._expire_freezes()
            stamp = now_utc(ts)
            for mid, machine in self.machines.items():
                machine.advance(sim)
                self.record(mid, machine, ts)
                tags = {**machine.tags(), **self.freezes[mid]}
                unit = self.modbus.by_machine.get(mid)
                if unit is not None:
                    unit.update(tags)
                else:
                    await self.opcua.publish(mid, tags, stamp)
            self.opcua.poll_writes()

    def record(self, mid: str, machine: Machine, ts: int) -> None:
        done = machine.take()
        truth = self.gt.machines[mid]
        truth.add_parts(ts, done.good, done.scrap)
        for tr in done.transitions:
            truth.set_state(ts, tr.state, tr.fault_code)
            log.info("%s: %s%s", mid, tr.state, f" (code {tr.fault_code})" if tr.fault_code else "")

    def _expire_freezes(self) -> None:
        now = time.monotonic()
        for (mid, tag), until in list(self.freeze_until.items()):
            if now >= until:
                self.freezes[mid].pop(tag, None)
                del self.freeze_until[(mid, tag)]

    def on_write(self, machine_id: str, tag: str, value: Any) -> None:
        self.machines[machine_id].write(tag, value)
        ts = self.now()[0]
        self.gt.machines[machine_id].writes.append({"ts_ms": ts, "tag": tag, "value": value})
        log.info("%s: client wrote %s = %r", machine_id, tag, value)

    # -- faults -----------------------------------------------------------------------------------
    async def apply_fault(self, req: FaultRequest) -> dict[str, Any]:
        """POST /faults: validate, apply now, publish at once so the next read sees it."""
        check(req, self.protocols, self.units)
        async with self.lock:  # never in the middle of a tick
            result = await self._apply(req, self.now()[1])
        await self.tick()
        return result

    async def _apply(self, req: FaultRequest, at: float) -> dict[str, Any]:
        try:
            result = await apply(self, req, at)
        except ValueError as err:
            raise FaultError(str(err)) from err
        self.gt.faults.append({"ts_ms": max(self.now()[0], self.last_ts), **result})
        return result

    def spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- read side for the HTTP API ---------------------------------------------------------------
    def ground_truth(self) -> dict[str, Any]:
        return self.gt.snapshot(self.last_ts)  # as of the last tick, like everything in it

    def parts(self, machine: str, since_ms: int, until_ms: int) -> dict[str, int]:
        if machine not in self.gt.machines:
            raise FaultError(f"machine: unknown machine {machine!r}")
        return self.gt.machines[machine].parts(since_ms, until_ms)

    def health(self) -> dict[str, Any]:
        states = {mid: STATE_NAMES[m.tags()["state"]] for mid, m in self.machines.items()}
        return {"ready": self.ready and self.opcua.server is not None and self.modbus.server is not None,
                "opcua": self.opcua.endpoint, "modbus": f"{self.opts.host}:{self.opts.modbus_port}",
                "accel": self.opts.accel, "started_ms": self.started_ms, "machines": states,
                "opcua_starts": self.opcua.starts, "modbus_starts": self.modbus.starts}  # fmt: skip

    def machine_tags(self) -> dict[str, Any]:
        return {mid: {**m.tags(), **self.freezes[mid]} for mid, m in self.machines.items()}

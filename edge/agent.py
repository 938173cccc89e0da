"""The edge agent: device tasks -> batcher -> outbox -> publisher, plus status and commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from edge import __version__
from edge import config as config_mod
from edge.buffer import Outbox, SampleRow
from edge.config import Device, EdgeConfig
from edge.errors import CommandError, ConfigError, EdgeError
from edge.pipeline import AsyncOutbox, Batcher, role_map
from edge.publisher import Publisher
from edge.sources.base import Health, Source, TagPoint, make_points
from edge.sparkplug_out import SparkplugNode
from edge.supervisor import DeviceLoop
from shared import messages

log = logging.getLogger(__name__)
COMMANDS_STOP_WAIT_S = 5.0  # commands in flight at a stop get this long to finish and report


def build_source(device: Device, points: list[TagPoint], health: Health, lines: dict[str, Any]) -> Source:
    """The adapter for a device; RTU devices on one serial port share one line."""
    if device.protocol == "opcua":
        from edge.sources.opcua import OpcUaSource

        return OpcUaSource(device, points, health)
    from edge.sources.modbus import Line, ModbusSource, make_line

    line: Line | None = None
    if device.serial is not None:
        line = lines.get(device.serial.port)
        if line is None:
            line = lines[device.serial.port] = make_line(device)
    return ModbusSource(device, points, health, line)


def tag_info(point: TagPoint) -> messages.TagInfo:
    """A tag as the birth announces it: its meaning for the server (docs/contracts.md, "Tag meaning")."""
    tag = point.tag
    return messages.TagInfo(
        machine=point.machine, tag=point.name, role=tag.role, width=point.width, unit=tag.unit,
        writable=tag.writable, direction=tag.direction, reset_value=tag.reset_value,
        parts_per_cycle=tag.parts_per_cycle,
    )  # fmt: skip


class Agent:
    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.stopping = asyncio.Event()
        self.status_dirty = asyncio.Event()
        self.sources: dict[str, Source] = {}
        self.device_loops: dict[str, DeviceLoop] = {}
        self.device_tasks: dict[str, asyncio.Task[None]] = {}  # named device-{name}, each a DeviceLoop's run
        self.command_tasks: set[asyncio.Task[None]] = set()  # in flight; finished (or cancelled) on stop
        self.points: dict[tuple[str, str], tuple[TagPoint, Source]] = {}
        self.outbox = AsyncOutbox(
            Outbox(config.buffer.path, config.buffer.max_bytes, config.buffer.max_age_s, config.buffer.fsync)
        )
        batching = config.batching
        self.batcher = Batcher(self.outbox, batching.max_samples, batching.max_delay_ms, self._stored)
        self.publisher: Publisher | None = None
        self.sparkplug: SparkplugNode | None = None  # the optional Sparkplug B edge node (docs/sparkplug.md)
        self.reloads = 0
        self.ack_target = 0
        self.acking = False
        self.devices_lock = asyncio.Lock()  # reload and shutdown never interleave

    # -- lifecycle --------------------------------------------------------------------------------------

    async def run(self) -> None:
        outbox = self.outbox
        sessions = await outbox.call(outbox.outbox.reserve_sessions)
        self.publisher = Publisher(
            self.config, outbox.pending, self._ack, self._command, self.status, session_base=sessions
        )
        self.publisher.acked = self.publisher.sent = outbox.outbox.acked_seq
        if self.config.sparkplug is not None:
            self.sparkplug = SparkplugNode(
                self.config, lambda: [p for p, _ in self.points.values()], self._machine_connected, self.write
            )
        log.info(
            "edge %s/%s starting: %d devices, outbox %s (%d batches waiting, next seq %d)",
            self.config.site, self.config.edge_id, len(self.config.devices), self.config.buffer.path,
            outbox.outbox.depth, outbox.outbox.next_seq,
        )  # fmt: skip
        self._start_devices(self.config)
        self.publisher.start()
        if self.sparkplug is not None:
            self.sparkplug.start()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.batcher.run(), name="batcher")
                group.create_task(self.publisher.run(), name="publisher")
                group.create_task(self.publisher.heartbeat(), name="heartbeat")
                group.create_task(self._status_loop(), name="status")
                group.create_task(self._housekeeping(), name="housekeeping")
                if self.sparkplug is not None:
                    group.create_task(self.sparkplug.run(), name="sparkplug")
                await self.stopping.wait()
                raise _Stop
        except* _Stop:
            pass
        finally:
            await self._shutdown()

    def stop(self) -> None:
        self.stopping.set()

    async def _shutdown(self) -> None:
        await self._finish_commands()
        async with self.devices_lock:
            await self._stop_devices()
        with contextlib.suppress(EdgeError):
            await self.batcher.flush()  # nothing read stays in RAM on a clean stop
        if self.sparkplug is not None:
            await asyncio.to_thread(self.sparkplug.stop)
        if self.publisher is not None:
            await asyncio.to_thread(self.publisher.stop)
        self.outbox.close()
        log.info("edge stopped")

    def _start_devices(self, config: EdgeConfig) -> None:
        lines: dict[str, Any] = {}
        for device in config.devices:
            if not device.enabled:
                continue
            health = Health(device.name, self.status_dirty.set)
            points, read = make_points(device, self.batcher.add if self.sparkplug is None else self._tee)
            source = build_source(device, read, health, lines)
            self.sources[device.name] = source
            for point in points:
                self.points[(point.machine, point.name)] = (point, source)
            loop = self.device_loops[device.name] = DeviceLoop(source, cap_s=device.backoff_max_s)
            self.device_tasks[device.name] = asyncio.create_task(loop.run(), name=f"device-{device.name}")
        roles = role_map(point for point, _ in self.points.values())
        self.outbox.outbox.roles = {**self.outbox.outbox.roles, **roles}
        self.status_dirty.set()

    async def _stop_devices(self) -> None:
        pending = set(self.device_tasks.values())
        while pending:  # cancel again if a library swallowed the first cancellation
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
        for source in self.sources.values():
            client = getattr(getattr(source, "line", None), "client", None)
            if client is not None:
                client.close()
        self.device_tasks.clear()
        self.device_loops.clear()
        self.sources.clear()
        self.points.clear()

    # -- pipeline callbacks -----------------------------------------------------------------------------

    def _tee(self, row: SampleRow) -> None:
        """Every sample to the outbox, and to the Sparkplug node when there is one."""
        self.batcher.add(row)
        if self.sparkplug is not None:
            self.sparkplug.offer(row)

    def _machine_connected(self, machine: str) -> bool:
        """Every device that reads a tag of `machine` is connected."""
        return all(
            source.health.connected for point, source in self.points.values() if point.machine == machine
        )

    def _stored(self, _seq: int) -> None:
        if self.publisher is not None:
            self.publisher.wake.set()

    async def _ack(self, seq: int) -> None:
        """Acks arrive one per batch; apply only the newest (one fsync'd delete for a burst of acks)."""
        self.ack_target = max(self.ack_target, seq)
        if self.acking:
            return
        self.acking = True
        try:
            while self.ack_target > self.outbox.outbox.acked_seq and not self.outbox.closed:
                await self.outbox.ack(self.ack_target)
        finally:
            self.acking = False

    async def _housekeeping(self) -> None:
        """Apply the age bound once a minute (it only ever strips analog samples)."""
        while True:
            await asyncio.sleep(60)
            before = dict(self.outbox.outbox.dropped)
            with contextlib.suppress(EdgeError):
                await self.outbox.call(self.outbox.outbox.enforce_bounds)
            if self.outbox.outbox.dropped != before:
                self.status_dirty.set()

    # -- status -----------------------------------------------------------------------------------------

    def status(self) -> messages.Status:
        outbox = self.outbox.outbox
        devices = [
            messages.DeviceStatus(name=name, connected=s.health.connected, error=s.health.error,
                                  since_ms=s.health.since_ms)
            for name, s in self.sources.items()
        ]  # fmt: skip
        tags = [tag_info(p) for p, _ in self.points.values()]
        buffer = messages.BufferStatus(
            depth=outbox.depth,
            bytes=outbox.bytes,
            oldest_ms=outbox.oldest_ms,
            dropped_samples=dict(outbox.dropped),
            dropped_from_ms=outbox.dropped_span[0] if outbox.dropped_span else None,
            dropped_to_ms=outbox.dropped_span[1] if outbox.dropped_span else None,
            disk_full_errors=outbox.disk_full_errors,
        )
        return messages.Status(
            edge_id=self.config.edge_id, online=True, ts_ms=int(time.time() * 1000), version=__version__,
            next_seq=outbox.next_seq, devices=devices, buffer=buffer, tags=tags,
        )  # fmt: skip

    async def _status_loop(self) -> None:
        interval = self.config.publishing.status_interval_s
        last_dropped: dict[str, int] = {}
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self.status_dirty.wait()
            await asyncio.sleep(0.2)  # coalesce bursts of changes
            self.status_dirty.clear()
            dropped = dict(self.outbox.outbox.dropped)
            if dropped != last_dropped:
                log.warning("outbox drop policy so far: %s", dropped)
                last_dropped = dropped
            if self.publisher is not None:
                self.publisher.publish_status()

    # -- commands ---------------------------------------------------------------------------------------

    def _command(self, command: messages.Command) -> None:
        task = asyncio.get_running_loop().create_task(self._run_command(command), name=f"cmd-{command.id}")
        self.command_tasks.add(task)
        task.add_done_callback(self.command_tasks.discard)

    async def _finish_commands(self) -> None:
        """Commands in flight finish and publish their result before the devices stop; late ones are
        cancelled."""
        while self.command_tasks:
            _, late = await asyncio.wait(set(self.command_tasks), timeout=COMMANDS_STOP_WAIT_S)
            for task in late:
                log.warning("command %s still running at the stop: cancelled", task.get_name())
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
                return

    async def _run_command(self, command: messages.Command) -> None:
        error: str | None = None
        try:
            if command.name == "reload":
                await self.reload()
            else:
                await self.write(command.machine or "", command.tag or "", command.value)
        except (CommandError, ConfigError) as err:
            error = str(err)
            log.error("command %s (%s) failed: %s", command.id, command.name, error)
        except Exception as err:  # a bug must still answer the command, and not end silently
            error = f"unexpected error: {err!r}"
            log.exception("command %s (%s) failed", command.id, command.name)
        result = messages.CommandResult(
            id=command.id,
            edge_id=self.config.edge_id,
            ok=error is None,
            error=error,
            ts_ms=int(time.time() * 1000),
        )
        if self.publisher is not None:
            self.publisher.publish_result(result)

    async def reload(self) -> None:
        """Re-read the config file; a bad file is refused and the running config stays."""
        new = await asyncio.to_thread(config_mod.load, Path(self.config.source))
        old = self.config
        if (new.site, new.edge_id, new.buffer, new.broker, new.sparkplug) != (
            old.site, old.edge_id, old.buffer, old.broker, old.sparkplug,
        ):  # fmt: skip
            raise ConfigError(
                new.source, "site/edge_id/buffer/broker/sparkplug", "changed: restart the agent to apply"
            )
        async with self.devices_lock:
            if self.stopping.is_set():
                raise CommandError("the agent is stopping")
            await self._stop_devices()
            self.config = new
            self._start_devices(new)
        if self.sparkplug is not None:
            self.sparkplug.rebirth()  # the metrics may have changed
        self.reloads += 1
        log.info("config reloaded: %d devices", len(new.devices))

    async def write(self, machine: str, tag: str, value: messages.Value) -> None:
        entry = self.points.get((machine, tag))
        if entry is None:
            raise CommandError(f"unknown tag {machine}/{tag}")
        point, source = entry
        if not point.tag.writable:
            raise CommandError(f"tag {machine}/{tag} is not writable (set writable: true in the config)")
        await source.write(point, value)
        log.info("wrote %r to %s/%s", value, machine, tag)


class _Stop(Exception):
    pass

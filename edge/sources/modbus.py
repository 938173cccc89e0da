"""Modbus TCP and RTU source: planned block reads, one task and one connection per device.

Failures (docs/edge.md, "Quality"):
- exception 01/02/03 (illegal function/address/value): the block is split until the bad tag is found;
  that tag is reported `bad` once, logged once, skipped, and re-checked every `bad_recheck_s`.
- timeout, exception 04/06/0A/0B, connection lost: every tag goes `stale` (last value kept, never
  zero), the device backs off (capped, jittered, exponential) and retries forever.
RTU devices on one serial port share a `Line` (one client, a lock, a pause between requests); a dead
unit times out after `timeout_s` and then backs off, so it costs the others one timeout per retry.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from tenacity import AttemptManager

from edge.codec import Codec, Value, encode_bool, make_codec
from edge.config import Device, orders
from edge.errors import CodecError, CommandError, SourceError, TagError
from edge.planner import Block, Item, plan, split
from edge.retry import retry_forever, start_over
from edge.sources.base import Health, TagPoint, now_ms

log = logging.getLogger(__name__)
CONFIG_EXCEPTIONS = frozenset({1, 2, 3})
READERS = {
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
    "holding": "read_holding_registers",
    "input": "read_input_registers",
}


@dataclass
class Line:
    """One Modbus connection (a TCP socket, or a serial port shared by several RTU devices)."""

    client: Any
    delay_s: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def ensure_connected(self, what: str) -> None:
        if self.client.connected:
            return
        try:
            ok = await self.client.connect()
        except (OSError, ModbusException) as err:
            raise SourceError(f"cannot connect to {what}: {err}") from err
        if not ok:
            raise SourceError(f"cannot connect to {what}")

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        async with self.lock:
            try:
                result = await getattr(self.client, method)(*args, **kwargs)
            finally:
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # Python 3.11's wait_for (inside pymodbus) returns the result and drops a cancellation
            # that lands together with the response; honour it here.
            raise asyncio.CancelledError
        return result


def make_line(device: Device) -> Line:
    if device.serial is not None:
        serial = device.serial
        client: Any = AsyncModbusSerialClient(
            serial.port, baudrate=serial.baudrate, parity=serial.parity, stopbits=serial.stopbits,
            bytesize=serial.bytesize, timeout=device.timeout_s, retries=0, reconnect_delay=0,
        )  # fmt: skip
        return Line(client, device.inter_request_delay_ms / 1000)
    client = AsyncModbusTcpClient(
        device.host or "127.0.0.1", port=device.port, timeout=device.timeout_s, retries=0, reconnect_delay=0
    )
    return Line(client)


@dataclass
class Group:
    """Tags polled at one rate: their blocks per table and when they are due."""

    interval_s: float
    keys: dict[str, list[int]]  # table -> point indexes
    blocks: dict[str, list[Block]] = field(default_factory=dict)
    no_gap: set[str] = field(default_factory=set)  # tables where a gap register was refused
    due: float = 0.0


def _tight(block: Block) -> Block:
    item = block.items[0]
    return Block(item.address, item.count, block.items)


class ModbusSource:
    def __init__(self, device: Device, points: list[TagPoint], health: Health, line: Line | None = None):
        self.device = device
        self.points = points
        self.health = health
        self.line = line or make_line(device)
        self.codecs: list[Codec | None] = [self._codec(p) for p in points]
        self.floats = [p.tag.type.startswith("float") for p in points]
        self.bad: dict[int, float] = {}  # point index -> monotonic time of the next re-check
        self.groups = self._groups()
        self.where = device.serial.port if device.serial else f"{device.host}:{device.port}"

    def _codec(self, point: TagPoint) -> Codec | None:
        tag, device = point.tag, self.device
        if tag.table in {"coil", "discrete"}:
            return None
        word_order, byte_order, swap_single = orders(device, tag)
        return make_codec(tag.type, word_order, byte_order, tag.bit, tag.scale, tag.offset, swap_single)

    def _count(self, index: int) -> int:
        codec = self.codecs[index]
        return codec.count if codec else 1

    def _groups(self) -> list[Group]:
        groups: dict[int, Group] = {}
        for index, point in enumerate(self.points):
            poll_ms = point.tag.poll_ms or self.device.poll_ms
            group = groups.setdefault(poll_ms, Group(poll_ms / 1000, {}))
            group.keys.setdefault(point.tag.table or "holding", []).append(index)
        for group in groups.values():
            self._plan(group)
        return list(groups.values())

    def _plan(self, group: Group) -> None:
        for table, keys in group.keys.items():
            items = [
                Item(k, int(self.points[k].tag.address or 0), self._count(k))
                for k in keys
                if k not in self.bad
            ]
            limit = self.device.max_bits if table in {"coil", "discrete"} else self.device.max_registers
            gap = 0 if table in group.no_gap else self.device.max_gap
            group.blocks[table] = plan(items, limit, gap)

    # -- run --------------------------------------------------------------------------------------------

    async def run(self) -> None:
        async for attempt in retry_forever(SourceError, 0.2, self.device.backoff_max_s):
            with attempt:
                try:
                    await self.line.ensure_connected(self.where)
                    await self._poll_forever(attempt)
                except SourceError as err:
                    self._went_stale(str(err))
                    if not self.line.client.connected or self.device.serial is None:
                        self.line.client.close()
                    raise

    async def _poll_forever(self, attempt: AttemptManager) -> None:
        start = time.monotonic()
        for group in self.groups:
            group.due = start
        while True:
            group = min(self.groups, key=lambda g: g.due)
            delay = group.due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._poll_group(group)
            self.health.set(True)
            start_over(attempt)
            group.due += group.interval_s
            now = time.monotonic()
            if group.due < now:
                group.due = now  # fell behind: skip the missed polls instead of bursting

    def _went_stale(self, error: str) -> None:
        self.health.set(False, error)
        ts = now_ms()
        for point in self.points:
            point.stale(ts)

    async def _poll_group(self, group: Group) -> None:
        replan = False
        for table, blocks in group.blocks.items():
            for block in blocks:
                replan |= await self._read_block(group, table, block)
        replan |= await self._recheck_bad(group)
        if replan:
            self._plan(group)

    async def _read_block(self, group: Group, table: str, block: Block) -> bool:
        """Read and report one block; on a config exception find the bad tags. True to re-plan."""
        try:
            values = await self._read(table, block.start, block.count)
        except TagError as err:
            if len(block.items) == 1 and block.count == block.items[0].count:
                self._mark_bad(block.items[0].key, str(err))
                return True
            group.no_gap.add(table)  # a gap register may be the refused one: read only what tags use
            for part in split(block) if len(block.items) > 1 else [_tight(block)]:
                await self._read_block(group, table, part)
            return True
        self._report_block(block, values)
        return False

    def _report_block(self, block: Block, values: list[Any]) -> None:
        ts = now_ms()
        codecs, points, floats = self.codecs, self.points, self.floats
        for item in block.items:
            offset = item.address - block.start
            codec = codecs[item.key]
            value = codec.decode(values, offset) if codec is not None else bool(values[offset])
            if floats[item.key] and not math.isfinite(value):  # type: ignore[arg-type]
                points[item.key].report(None, "bad", ts)
            else:
                points[item.key].report(value, "good", ts)

    def _mark_bad(self, key: int, error: str) -> None:
        point = self.points[key]
        if key not in self.bad:
            log.error(
                "device %s: tag %s/%s at %s %s refused: %s (check the address; re-checked every %.0f s)",
                self.device.name, point.machine, point.name, point.tag.table, point.tag.address, error,
                self.device.bad_recheck_s,
            )  # fmt: skip
        self.bad[key] = time.monotonic() + self.device.bad_recheck_s
        point.report(None, "bad", now_ms())

    async def _recheck_bad(self, group: Group) -> bool:
        now, recovered = time.monotonic(), False
        for table, keys in group.keys.items():
            for key in keys:
                if key in self.bad and self.bad[key] <= now:
                    item = Item(key, int(self.points[key].tag.address or 0), self._count(key))
                    try:
                        values = await self._read(table, item.address, item.count)
                    except TagError:
                        self.bad[key] = now + self.device.bad_recheck_s
                        continue
                    del self.bad[key]
                    log.info("device %s: tag %s/%s readable again", self.device.name, *self._ident(key))
                    self._report_block(Block(item.address, item.count, (item,)), values)
                    recovered = True
        return recovered

    def _ident(self, key: int) -> tuple[str, str]:
        return self.points[key].machine, self.points[key].name

    async def _read(self, table: str, start: int, count: int) -> list[Any]:
        response = await self._call(READERS[table], start, count=count, device_id=self.device.unit_id)
        return list(response.registers if table in {"holding", "input"} else response.bits[:count])

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            response = await self.line.call(method, *args, **kwargs)
        except ConnectionException as err:
            raise SourceError(f"connection to {self.where} lost: {err}") from err
        except (TimeoutError, ModbusException, OSError) as err:
            raise SourceError(f"no answer from unit {self.device.unit_id} at {self.where}") from err
        if response.isError():
            code = int(getattr(response, "exception_code", 0))
            if code in CONFIG_EXCEPTIONS:
                raise TagError(f"Modbus exception {code:02X}")
            raise SourceError(f"unit {self.device.unit_id} at {self.where} answered exception {code:02X}")
        return response

    # -- commands and check -----------------------------------------------------------------------------

    async def write(self, point: TagPoint, value: Value) -> None:
        index = self.points.index(point)
        tag, codec = point.tag, self.codecs[index]
        try:
            if tag.table == "coil":
                await self._call(
                    "write_coil", int(tag.address or 0), encode_bool(value), device_id=self.device.unit_id
                )
                return
            assert codec is not None
            words = codec.encode(value)
            if len(words) == 1:  # FC06: what every device supports for one register
                await self._call(
                    "write_register", int(tag.address or 0), words[0], device_id=self.device.unit_id
                )
            else:
                await self._call(
                    "write_registers", int(tag.address or 0), words, device_id=self.device.unit_id
                )
        except (CodecError, SourceError) as err:
            raise CommandError(f"cannot write {point.machine}/{point.name}: {err}") from err

    async def read_once(self) -> dict[str, tuple[Value, str, str | None]]:
        """Read every tag once (for `takt edge check`): name -> (value, quality, error)."""
        results: dict[str, tuple[Value, str, str | None]] = {}
        for attempt in range(3):  # a busy event loop (other devices connecting) can starve one attempt
            try:
                await self.line.ensure_connected(self.where)
                break
            except SourceError as err:
                if attempt == 2:
                    return {f"{p.machine}/{p.name}": (None, "bad", str(err)) for p in self.points}
                await asyncio.sleep(0.2)
        for index, point in enumerate(self.points):
            results[f"{point.machine}/{point.name}"] = await self._read_one(index)
        self.line.client.close()
        return results

    async def _read_one(self, index: int) -> tuple[Value, str, str | None]:
        point = self.points[index]
        table = point.tag.table or "holding"
        try:
            values = await self._read(table, int(point.tag.address or 0), self._count(index))
        except SourceError as err:
            return None, "bad", str(err)
        point.wire = " ".join(str(int(v)) if isinstance(v, bool) else f"{v:04X}" for v in values)
        codec = self.codecs[index]
        return (codec.decode(values, 0) if codec else bool(values[0])), "good", None

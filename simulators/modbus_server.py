"""Modbus TCP server (pymodbus) with one unit id per Modbus machine, laid out as in docs/contracts.md.

The datastore is ours (a ModbusServerContext subclass), so it can answer real exception codes, stay
silent for unknown or silenced unit ids (pymodbus' ignore_missing_devices) and decode writes.
"""

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

from simulators.config import MachineConfig
from simulators.errors import SimError
from simulators.registers import decode_string, encode, encode_string

log = logging.getLogger(__name__)
WriteHandler = Callable[[str, str, Any], None]  # (machine_id, tag, value)

HOLDING_SIZE = 65
SCRATCH_START = 100
_HOLDING_MAPPED = [*range(0, 12), *range(20, 36), *range(40, 51), *range(60, 65)]
_WRITABLE = range(40, 51)
_TABLE = {1: "c", 5: "c", 15: "c", 2: "d", 4: "i", 3: "h", 6: "h", 16: "h", 22: "h", 23: "h"}


class UnitImage:
    """The four tables of one machine, refreshed from its tags every tick."""

    def __init__(self, cfg: MachineConfig) -> None:
        self.cfg = cfg
        scratch = cfg.modbus_scratch_registers
        size = SCRATCH_START + scratch if scratch else HOLDING_SIZE
        self.holding = [0] * size
        self.mapped = bytearray(size)
        for addr in [*_HOLDING_MAPPED, *range(SCRATCH_START, SCRATCH_START + scratch)]:
            self.mapped[addr] = 1
        self.input = [0] * 10
        self.coils = [False, False]
        self.exception: int | None = None
        self.exception_until: float | None = None  # monotonic
        self.silent_until = 0.0

    def update(self, tags: dict[str, Any]) -> None:
        cfg = self.cfg
        wo, bo = cfg.word_order, cfg.byte_order
        h = self.holding
        n = 1 if cfg.counter_width == 16 else 2
        if n == 1:
            h[0], h[1], h[2], h[3] = tags["good_count"], 0, tags["scrap_count"], 0
        else:
            h[0:2] = encode("uint", tags["good_count"], 2, wo, bo)
            h[2:4] = encode("uint", tags["scrap_count"], 2, wo, bo)
        h[4], h[5], h[6] = tags["state"], tags["fault_code"], tags["status_bits"]
        h[7] = encode("int", tags["ambient"], 1, wo, bo)[0]
        h[8:12] = encode("int", tags["total_cycles"], 4, wo, bo)
        h[20:36] = encode_string(tags["program"], 16, bo)
        h[40:50] = encode_string(tags["work_order"], 10, bo)
        h[50] = tags["setpoint"]
        if n == 1:  # a PLC's own conventions: total parts, shots, its state numbering
            h[60], h[61], h[62], h[63] = tags["part_count"], 0, tags["shot_count"], 0
        else:
            h[60:62] = encode("uint", tags["part_count"], 2, wo, bo)
            h[62:64] = encode("uint", tags["shot_count"], 2, wo, bo)
        h[64] = tags["plc_state"]
        ir = self.input
        ir[0:2] = encode("float", tags["temperature"], 2, wo, bo)
        ir[2:4] = encode("float", tags["pressure"], 2, wo, bo)
        ir[4:6] = encode("float", tags["power"], 2, wo, bo)
        ir[6:10] = encode("float", tags["energy"], 4, wo, bo)
        self.coils[0], self.coils[1] = tags["running"], tags["fault"]

    def read(self, table: str, address: int, count: int) -> list[int] | list[bool] | ExcCodes:
        if table in ("c", "d"):
            if address < 0 or address + count > 2:
                return ExcCodes.ILLEGAL_ADDRESS
            return self.coils[address : address + count]
        if table == "i":
            if address < 0 or address + count > len(self.input):
                return ExcCodes.ILLEGAL_ADDRESS
            return self.input[address : address + count]
        end = address + count
        if address < 0 or end > len(self.holding) or 0 in self.mapped[address:end]:
            return ExcCodes.ILLEGAL_ADDRESS
        return self.holding[address:end]


class PlantContext(ModbusServerContext):
    """pymodbus calls async_getValues/async_setValues with the unit id; we answer from UnitImages."""

    def __init__(self, units: dict[int, UnitImage], on_write: WriteHandler) -> None:  # no super(): its
        self._devices = {}  # deprecation warning and SimCore conversion are not for us
        self.simdevices = []
        self.old_simulator = True  # makes pymodbus use this object as the datastore as is
        self.units = units
        self.on_write = on_write
        self.silent_until = 0.0  # monotonic; the whole server ignores requests until then

    def _unit(self, device_id: int) -> UnitImage:
        unit = self.units.get(device_id)
        now = time.monotonic()
        if unit is None or now < self.silent_until or now < unit.silent_until:
            raise NoSuchIdException(f"unit {device_id} does not answer")  # ignored: no response at all
        if unit.exception_until is not None and now >= unit.exception_until:
            unit.exception, unit.exception_until = None, None
        return unit

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        unit = self._unit(device_id)
        if unit.exception is not None:
            return ExcCodes(unit.exception)
        table = _TABLE.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        return unit.read(table, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        unit = self._unit(device_id)
        if unit.exception is not None:
            return ExcCodes(unit.exception)
        table = _TABLE.get(func_code)
        if table == "c":  # coils mirror the machine: writes are accepted and have no effect
            return None if address >= 0 and address + len(values) <= 2 else ExcCodes.ILLEGAL_ADDRESS
        if table != "h" or address < _WRITABLE.start or address + len(values) > _WRITABLE.stop:
            return ExcCodes.ILLEGAL_ADDRESS
        unit.holding[address : address + len(values)] = [int(v) for v in values]
        if address < 50:
            text = decode_string(unit.holding[40:50], unit.cfg.byte_order)
            self.on_write(unit.cfg.id, "work_order", text)
        if address + len(values) > 50:
            self.on_write(unit.cfg.id, "setpoint", unit.holding[50])
        return None

    def device_ids(self) -> list[int]:
        return list(self.units)


class ModbusPlant:
    """The TCP server; start/stop/restart keep the port and the images."""

    def __init__(self, machines: list[MachineConfig], port: int, host: str, on_write: WriteHandler) -> None:
        units = {
            m.unit_id: UnitImage(m) for m in machines if m.protocol == "modbus" and m.unit_id is not None
        }
        self.by_machine = {u.cfg.id: u for u in units.values()}
        self.context = PlantContext(units, on_write)
        self.port, self.host = port, host
        self.server: ModbusTcpServer | None = None
        self.starts = 0

    async def start(self) -> None:
        self.server = ModbusTcpServer(
            self.context, address=(self.host, self.port), ignore_missing_devices=True
        )
        try:
            await self.server.serve_forever(background=True)
        except RuntimeError as err:  # pymodbus' way of saying the port is taken
            self.server = None
            raise SimError(f"Modbus TCP cannot listen on {self.host}:{self.port}: {err}") from err
        self.starts += 1
        log.info("Modbus TCP serving %d units on %s:%d", len(self.context.units), self.host, self.port)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()  # type: ignore[no-untyped-call]
            self.server = None
            log.info("Modbus TCP server stopped")

    def drop_connections(self) -> int:
        """Close every client connection (the listener stays); returns how many were closed."""
        if self.server is None:
            return 0
        conns = list(self.server.active_connections.values())
        for conn in conns:
            conn.close()
        log.info("Modbus: dropped %d connections", len(conns))
        return len(conns)

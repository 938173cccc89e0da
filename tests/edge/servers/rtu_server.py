"""A tiny Modbus RTU server for tests: unit 1 answers (holding registers count up, 20 per second), every
other unit stays silent like a dead unit on the bus. Usage: python rtu_server.py SERIAL_PORT"""

import asyncio
import sys
import time

from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer


class Ctx(ModbusServerContext):  # type: ignore[misc]
    def __init__(self) -> None:  # no super(): we are the datastore (as simulators/modbus_server.py)
        self._devices = {}
        self.simdevices = []
        self.old_simulator = True
        self.start = time.monotonic()

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int]:
        if device_id != 1:
            raise NoSuchIdException(f"unit {device_id} does not answer")
        return ([int((time.monotonic() - self.start) * 20) % 65536] + [0] * count)[:count]

    async def async_setValues(self, device_id: int, func_code: int, address: int, values: list[int]) -> None:
        return None

    def device_ids(self) -> list[int]:
        return [1]


async def main() -> None:
    server = ModbusSerialServer(Ctx(), port=sys.argv[1], baudrate=115200, ignore_missing_devices=True)
    print("ready", flush=True)
    await server.serve_forever()


asyncio.run(main())

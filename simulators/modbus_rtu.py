"""Modbus RTU over a pseudo-terminal pair: socat links two ptys, pymodbus serves RTU on one end with the
same datastore (units, faults) as the TCP server, and a client opens the other end (`--rtu PATH`)."""

import asyncio
import logging
import shutil
from pathlib import Path

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer

from simulators.errors import SimError
from simulators.modbus_server import PlantContext

log = logging.getLogger(__name__)


class RtuLink:
    def __init__(self, context: PlantContext, client_path: Path, baudrate: int = 19200) -> None:
        self.context = context
        self.client_path = client_path
        self.server_path = client_path.with_name(client_path.name + ".sim")
        self.baudrate = baudrate
        self.socat: asyncio.subprocess.Process | None = None
        self.server: ModbusSerialServer | None = None

    async def start(self) -> None:
        socat = shutil.which("socat")
        if socat is None:
            raise SimError("--rtu needs socat (Debian package socat)")
        self.socat = await asyncio.create_subprocess_exec(
            socat, f"pty,raw,echo=0,link={self.server_path}", f"pty,raw,echo=0,link={self.client_path}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            if self.server_path.exists() and self.client_path.exists():
                break
            await asyncio.sleep(0.05)
        else:
            await self.stop()
            raise SimError(f"socat did not create {self.client_path}")
        self.server = ModbusSerialServer(self.context, framer=FramerType.RTU, port=str(self.server_path),
                                         baudrate=self.baudrate, ignore_missing_devices=True)  # fmt: skip
        await self.server.serve_forever(background=True)
        log.info("Modbus RTU serving on %s (%d baud, 8N1)", self.client_path, self.baudrate)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()  # type: ignore[no-untyped-call]
            self.server = None
        if self.socat is not None and self.socat.returncode is None:
            self.socat.terminate()
            await self.socat.wait()
        self.socat = None

"""Modbus RTU over a real serial line: a socat pty pair and a pymodbus RTU server (tests/edge/servers).

A dead unit on the shared line times out quickly and backs off; the live unit keeps flowing."""

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from edge.agent import build_source
from edge.config import Device
from edge.sources.base import Health, SampleRow, TagPoint
from edge.sources.modbus import ModbusSource
from tests.edge.support import wait_until

SERVER = Path(__file__).parent / "servers" / "rtu_server.py"


@pytest.fixture
def serial_line(tmp_path: Path) -> Iterator[str]:
    """The client end of a pty pair whose other end a pymodbus RTU server listens on."""
    socat = shutil.which("socat")
    assert socat, "socat missing: deploy/debian-deps.sh test installs it"
    client, server = tmp_path / "ttyA", tmp_path / "ttyB"
    pair = subprocess.Popen([socat, f"pty,raw,echo=0,link={client}", f"pty,raw,echo=0,link={server}"])
    wait_until(lambda: client.exists() and server.exists(), 10, "the pty pair")
    rtu = subprocess.Popen([sys.executable, str(SERVER), str(server)], stdout=subprocess.PIPE)
    assert rtu.stdout is not None and rtu.stdout.readline().strip() == b"ready"
    yield str(client)
    for process in (rtu, pair):
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.faults
async def test_dead_unit_on_shared_serial_line(serial_line: str) -> None:
    lines: dict[str, object] = {}
    sources: list[ModbusSource] = []
    rows: dict[str, list[SampleRow]] = {"live": [], "dead": []}
    for name, unit in (("dead", 7), ("live", 1)):
        raw = {"name": name, "protocol": "modbus_rtu", "machine": name, "unit_id": unit, "timeout_s": 0.2,
               "poll_ms": 50, "backoff_max_s": 1, "inter_request_delay_ms": 2,
               "serial": {"port": serial_line, "baudrate": 115200},
               "tags": [{"name": "good_count", "table": "holding", "address": 0, "role": "counter",
                         "width": 16}]}  # fmt: skip
        device = msgspec.convert(raw, Device)
        points = [TagPoint(device, tag, rows[name].append) for tag in device.tags]
        source = build_source(device, points, Health(name), lines)
        assert isinstance(source, ModbusSource)
        sources.append(source)
    assert sources[0].line is sources[1].line and len(lines) == 1, "one line for the serial port"
    tasks = [asyncio.create_task(s.run()) for s in sources]
    try:
        async with asyncio.timeout(15):
            while len({r[3] for r in rows["live"]}) < 20 or not sources[0].health.error:
                await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        sources[1].line.client.close()
    dead, live = sources
    assert rows["dead"] == [] and not dead.health.connected
    assert "no answer from unit 7" in (dead.health.error or "")
    assert live.health.connected
    values = [r[3] for r in rows["live"]]
    assert values == sorted(values) and all(r[4] == "good" for r in rows["live"])

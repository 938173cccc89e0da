"""The plant simulator against bare servers, all in child processes, measured by the same clients:
OPC UA data-change notifications/s to one client subscribed to ~1,000 items, and Modbus TCP requests/s
answered at 1 and at 125 registers. Run: `python -m bench bench_simulator`."""

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from bench.table import Table
from simulators.machines import TAG_NAMES

OPCUA_MACHINES = 63  # x 16 tags = 1,008 monitored items
SECONDS = 4.0
TICK_MS = 50


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plant(path: Path) -> None:
    machines: list[dict[str, Any]] = [
        {
            "id": f"m{i:02d}",
            "kind": "injection_molding",
            "line": "B",
            "protocol": "opcua",
            "cycle_time_s": 1.0,
        }
        for i in range(OPCUA_MACHINES)
    ]
    machines.append({"id": "mb", "kind": "cnc", "line": "A", "protocol": "modbus", "unit_id": 1,
                     "cycle_time_s": 1.0, "modbus_scratch_registers": 125})  # fmt: skip
    path.write_text(yaml.safe_dump({"tick_ms": TICK_MS, "machines": machines}))


BARE_OPCUA = """
import asyncio, sys, time
from asyncua import ua
from asyncua.server.server import Server

async def main(port, items, tick_ms):
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await server.register_namespace("urn:bench")
    folder = await server.nodes.objects.add_folder(ua.NodeId("F", idx), f"{idx}:F")
    ids = []
    for i in range(items):
        var = await folder.add_variable(ua.NodeId(f"v{i}", idx), f"{idx}:v{i}", 0.0)
        ids.append(var.nodeid)
    await server.start()
    print("ready", flush=True)
    changing = [nid for i, nid in enumerate(ids) if i % 16 < 9]  # as many as the simulator changes per tick
    n, next_tick = 0, time.monotonic()
    while True:  # the simulator's loop: a fixed period, every changed value written server-side
        n += 1
        next_tick += tick_ms / 1000
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        for nid in changing:
            await server.write_attribute_value(nid, ua.DataValue(ua.Variant(float(n), ua.VariantType.Double)))

asyncio.run(main(*map(int, sys.argv[1:4])))
"""

BARE_MODBUS = """
import asyncio, sys
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

async def main(port):
    device = SimDevice(1, simdata=[SimData(0, count=300, values=0, datatype=DataType.REGISTERS)])
    server = ModbusTcpServer(device, address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1])))
"""


def _start_bare(script: str, *args: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"ready":
        raise RuntimeError("bare server did not start")
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait(20)


def _start_sim(workdir: Path, opcua: int, modbus: int, http: int) -> subprocess.Popen[bytes]:
    plant = workdir / "plant.yaml"
    _plant(plant)
    args = [sys.executable, "-m", "takt.cli", "sim", "--config", str(plant), "--opcua-port", str(opcua),
            "--modbus-port", str(modbus), "--http-port", str(http), "--accel", "1000", "--scenario", "none",
            "--state-dir", str(workdir / "state"), "--log-level", "WARNING"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=2) as resp:
                if json.loads(resp.read())["ready"]:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("simulator did not start")


async def _opcua_rate(port: int, namespace: str, node_ids: list[str]) -> float:
    from asyncua.client.client import Client

    count = 0

    class Handler:
        def datachange_notification(self, *_: Any) -> None:
            nonlocal count
            count += 1

    async with Client(f"opc.tcp://127.0.0.1:{port}", timeout=10) as client:
        idx = await client.get_namespace_index(namespace)
        sub = await client.create_subscription(TICK_MS, Handler())
        await sub.subscribe_data_change([client.get_node(f"ns={idx};s={n}") for n in node_ids], queuesize=1)
        await asyncio.sleep(1.0)  # initial values and warm-up
        count, start = 0, time.perf_counter()
        await asyncio.sleep(SECONDS)
        rate = count / (time.perf_counter() - start)
        await client.check_connection()  # raises if the server dropped us: the figure would mean nothing
        await sub.delete()
    return rate


async def _modbus_rate(port: int, address: int, count: int) -> float:
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2)
    await client.connect()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS / 2:
        rr = await client.read_holding_registers(address, count=count, device_id=1)
        if rr.isError():
            raise RuntimeError(f"Modbus error {rr}")
        done += 1
    client.close()
    return done / (time.perf_counter() - start)


def run() -> Table:
    sim_ids = [f"m{i:02d}.{t}" for i in range(OPCUA_MACHINES) for t in TAG_NAMES]
    bare_ids = [f"v{i}" for i in range(OPCUA_MACHINES * 16)]
    with tempfile.TemporaryDirectory() as tmp:
        ports = [_port() for _ in range(5)]
        sim = _start_sim(Path(tmp), ports[0], ports[1], ports[2])
        try:  # each pair back to back, so both see the same background load
            opc = asyncio.run(_opcua_rate(ports[0], "urn:takt:simulator", sim_ids))
            bare = _start_bare(BARE_OPCUA, ports[3], len(bare_ids), TICK_MS)
            try:
                opc_ref = asyncio.run(_opcua_rate(ports[3], "urn:bench", bare_ids))
            finally:
                _stop(bare)
            bare = _start_bare(BARE_MODBUS, ports[4])
            try:
                mb1, mb1_ref = (
                    asyncio.run(_modbus_rate(ports[1], 0, 1)),
                    asyncio.run(_modbus_rate(ports[4], 0, 1)),
                )
                mb125 = asyncio.run(_modbus_rate(ports[1], 100, 125))
                mb125_ref = asyncio.run(_modbus_rate(ports[4], 0, 125))
            finally:
                _stop(bare)
        finally:
            _stop(sim)
    table = Table(
        f"simulators: servers vs bare asyncua/pymodbus ({len(sim_ids)} OPC UA items, tick {TICK_MS} ms)"
    )
    table.add("OPC UA notifications/s, 1 subscribed client", opc, "notif/s", opc_ref, "bare asyncua")
    table.add("Modbus TCP requests/s, 1 register", mb1, "req/s", mb1_ref, "bare pymodbus")
    table.add("Modbus TCP requests/s, 125 registers", mb125, "req/s", mb125_ref, "bare pymodbus")
    return table

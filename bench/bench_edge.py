"""The edge agent: Modbus tags/s end to end per core, OPC UA changes/s, peak RSS, outbox and replay rates.

End to end = a `takt edge` subprocess polls 2,000 uint16 tags from the simulator, decodes them, stores
batches in its fsync'd outbox and publishes them to a private mosquitto; a consumer here acks like the
server. Rates per core divide by the edge process's CPU time (user + system, all threads), not wall time.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.client import AsyncModbusTcpClient

from bench.table import Table
from edge.buffer import Outbox
from shared import messages, topics

ROOT = Path(__file__).resolve().parents[1]
TAGS = 2000
SITE, EDGE = "bench", "edge1"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class AckingConsumer:
    """Counts samples and acks the highest contiguous seq, like the server."""

    def __init__(self, port: int, edge_id: str = EDGE) -> None:
        self.edge_id = edge_id
        self.samples = 0
        self.first = 0.0  # monotonic time of the first batch
        self.contiguous = 0
        self.seen: set[int] = set()
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-{edge_id}", clean_session=False
        )
        self.client.on_connect = lambda c, *_: c.subscribe(topics.data(SITE, edge_id), qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        batch = messages.decode(messages.DataBatch, bytes(msg.payload))
        with self.lock:
            self.first = self.first or time.monotonic()
            if batch.seq in self.seen:
                return
            self.seen.add(batch.seq)
            self.samples += len(batch.samples)
            while self.contiguous + 1 in self.seen:
                self.seen.discard(self.contiguous)
                self.contiguous += 1
            seq = self.contiguous
        ack = messages.encode(messages.Ack(edge_id=self.edge_id, seq=seq))
        self.client.publish(topics.ack(SITE, self.edge_id), ack, qos=1, retain=True)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def edge_config(
    workdir: Path, broker: int, devices: list[dict[str, Any]], edge_id: str = EDGE, **publishing: Any
) -> Path:
    config = {
        "site": SITE, "edge_id": edge_id, "broker": {"port": broker},
        "buffer": {"path": str(workdir / "outbox.db")},
        "batching": {"max_samples": 1000, "max_delay_ms": 100},
        "publishing": {"max_inflight": 100, "replay_rate": 100_000, **publishing},
        "logging": {"level": "WARNING"}, "devices": devices,
    }  # fmt: skip
    path = workdir / "edge.yaml"
    path.write_bytes(msgspec.yaml.encode(config))
    return path


def start_edge(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "takt.cli", "edge", "--config", str(config)], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def raw_pymodbus_rate(port: int, seconds: float = 3.0) -> float:
    """Registers per CPU-second of this process with pymodbus' client reading 125-register blocks."""
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    count, cpu0, end = 0, time.process_time(), time.monotonic() + seconds
    while time.monotonic() < end:
        for block in range(TAGS // 125):
            response = await client.read_holding_registers(100 + block * 125, count=125, device_id=1)
            count += len(response.registers)
    cpu = time.process_time() - cpu0
    client.close()
    return count / cpu


def modbus_end_to_end(workdir: Path, broker: int, sim_port: int, table: Table, raw_rate: float) -> None:
    tags = [{"name": f"r{i}", "table": "holding", "address": 100 + i, "type": "uint16", "report": "always"}
            for i in range(TAGS)]  # fmt: skip
    device = {"name": "scratch", "protocol": "modbus_tcp", "machine": "scratch", "host": "127.0.0.1",
              "port": sim_port, "unit_id": 1, "poll_ms": 20, "max_gap": 0, "tags": tags}  # fmt: skip
    consumer = AckingConsumer(broker)
    edge = start_edge(edge_config(workdir, broker, [device]), workdir / "edge.log")
    try:
        deadline = time.monotonic() + 20
        while consumer.samples < TAGS * 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        samples0, cpu0, wall0 = consumer.samples, cpu_seconds(edge.pid), time.monotonic()
        time.sleep(10)
        samples, cpu, wall = (
            consumer.samples - samples0,
            cpu_seconds(edge.pid) - cpu0,
            time.monotonic() - wall0,
        )
        rss = peak_rss_mb(edge.pid)
    finally:
        stop(edge)
        consumer.stop()
    per_core = samples / cpu if cpu else 0.0
    table.add("Modbus tags/s end to end (polled, stored, published, acked)", samples / wall, "tags/s")
    table.add("Modbus tags/s per core of edge CPU", per_core, "tags/CPU-s", 30_000, "of the 30,000 target")
    table.add(
        "  same, relative to raw pymodbus batched reads", per_core, "tags/CPU-s", raw_rate, "raw pymodbus"
    )
    table.add("raw pymodbus client, 125-register reads", raw_rate, "regs/CPU-s")
    table.add(f"peak RSS, {TAGS} tags configured", rss, "MB", 60, "of the 60 MB target")


OPCUA_SERVER = textwrap.dedent("""
    import asyncio, sys
    from asyncua import Server, ua
    async def main():
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{sys.argv[1]}/")
        idx = await server.register_namespace("urn:bench")
        obj = await server.nodes.objects.add_object(idx, "bench")
        count = int(sys.argv[2])
        nodes = [await obj.add_variable(ua.NodeId(f"v{i}", idx), f"v{i}", 0.0) for i in range(count)]
        async with server:
            print("ready", flush=True)
            tick = 0
            while True:
                tick += 1
                value = ua.DataValue(ua.Variant(float(tick), ua.VariantType.Double))
                for node in nodes:
                    await server.write_attribute_value(node.nodeid, value)
                await asyncio.sleep(0.02)
    asyncio.run(main())
""")


async def opcua_rate(ports: list[int], count: int, seconds: float = 6.0) -> tuple[float, float]:
    """(changes/s handled, changes per CPU-second of this process) through one OpcUaSource per server."""
    from edge.config import Device
    from edge.sources.base import Health, TagPoint
    from edge.sources.opcua import OpcUaSource

    tags = [{"name": f"v{i}", "address": f"nsu=urn:bench;s=v{i}", "report": "always"} for i in range(count)]
    received = [0]

    def sink(_row: object) -> None:
        received[0] += 1

    tasks = []
    for port in ports:
        raw = {"name": f"b{port}", "protocol": "opcua", "machine": f"b{port}", "sampling_ms": 0, "tags": tags,
               "publishing_ms": 50, "endpoint": f"opc.tcp://127.0.0.1:{port}", "batch_size": 500}  # fmt: skip
        device = msgspec.convert(raw, Device)
        source = OpcUaSource(device, [TagPoint(device, t, sink) for t in device.tags], Health("bench"))
        tasks.append(asyncio.create_task(source.run()))
    while received[0] < count * 3 * len(ports):
        await asyncio.sleep(0.1)
    start, cpu0, wall0 = received[0], time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    changes, cpu, wall = received[0] - start, time.process_time() - cpu0, time.monotonic() - wall0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return changes / wall, changes / cpu


def outbox_rates(workdir: Path, broker: int, table: Table) -> None:
    outbox = Outbox(workdir / "fsync.db")
    rows = [("m1", f"t{i}", 1_700_000_000_000 + i, i * 0.5, "good") for i in range(100)]
    count, end = 0, time.monotonic() + 2.0
    while time.monotonic() < end:
        outbox.append(list(rows))  # type: ignore[arg-type]
        count += 1
    table.add("outbox appends with fsync (100-sample batches)", count / 2.0, "batches/s")
    outbox.close()
    replay_dir = workdir / "replay"
    replay_dir.mkdir()
    backlog = Outbox(replay_dir / "outbox.db")
    old = int(time.time() * 1000) - 60_000  # an outage a minute ago: historical batches
    for _ in range(3000):
        backlog.append(list(rows), created_ms=old)  # type: ignore[arg-type]
    backlog.close()
    consumer = AckingConsumer(broker, "replay")
    config = edge_config(replay_dir, broker, [], edge_id="replay", max_inflight=500)
    edge = start_edge(config, replay_dir / "edge.log")
    try:
        deadline = time.monotonic() + 60
        while consumer.contiguous < 3000 and time.monotonic() < deadline:
            time.sleep(0.02)
        elapsed = time.monotonic() - consumer.first
    finally:
        stop(edge)
        consumer.stop()
    table.add("replay after an outage (3,000 x 100 samples, acked)", consumer.contiguous / elapsed,
              "batches/s")  # fmt: skip


def run() -> Table:
    sys.path.insert(0, str(ROOT))
    from tests.support.mosquitto import Mosquitto
    from tests.support.ports import free_port
    from tests.support.simulator import Simulator

    table = Table("edge: Modbus and OPC UA to MQTT, store and forward")
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
        workdir = Path(tmp)
        plant = workdir / "plant.yaml"
        plant.write_text("machines:\n  - {id: scratch, kind: cnc, line: A, protocol: modbus, unit_id: 1, "
                         f"cycle_time_s: 10, modbus_scratch_registers: {TAGS}}}\n")  # fmt: skip
        (workdir / "sim").mkdir()
        sim = Simulator(workdir / "sim", config=plant, extra=["--scenario", "none", "--state-dir", tmp])
        broker = Mosquitto(workdir / "mqtt")
        sim.start()
        broker.start()
        try:
            raw = asyncio.run(raw_pymodbus_rate(sim.modbus_port))
            (workdir / "modbus").mkdir()
            modbus_end_to_end(workdir / "modbus", broker.port, sim.modbus_port, table, raw)
            sim.stop()
            ports = [free_port(), free_port()]  # two servers: one Python server cannot change 10,000 values/s
            servers = [subprocess.Popen([sys.executable, "-c", OPCUA_SERVER, str(port), "1000"],
                                        stdout=subprocess.PIPE, cwd=ROOT) for port in ports]  # fmt: skip
            try:
                for server in servers:
                    assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
                wall, per_cpu = asyncio.run(opcua_rate(ports, 1000))
            finally:
                for server in servers:
                    stop(server)
            table.add("OPC UA value changes/s handled (2 servers x 1,000 items)", wall, "changes/s")
            table.add(
                "OPC UA changes per core of edge CPU",
                per_cpu,
                "changes/CPU-s",
                10_000,
                "of the 10,000 target",
            )
            outbox_rates(workdir, broker.port, table)
        finally:
            sim.stop()
            broker.stop()
    return table

"""Helpers for the edge tests: configs, an acking consumer that behaves like the server, waiting."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import Device
from edge.sources.base import Health, SampleRow, TagPoint
from edge.sources.modbus import ModbusSource
from shared import messages, topics
from tests.support.processes import TaktProcess
from tests.support.simulator import Simulator
from tests.support.waiting import wait_until as wait_until  # re-exported for the edge tests

HERE = Path(__file__).resolve().parent
PLANTS = HERE / "plants"
# the smallest valid edge config: one Modbus device with one counter (broker port from $MQTT_PORT)
MINIMAL_CONFIG = """
site: plant
edge_id: e1
broker: {host: 127.0.0.1, port: "${MQTT_PORT:-1883}"}
devices:
  - name: cnc1
    protocol: modbus_tcp
    host: 127.0.0.1
    machine: cnc1
    tags:
      - {name: good_count, table: holding, address: 0, type: uint16, role: counter, width: 16}
"""


def modbus_device(
    name: str, port: int, unit: int, tags: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    device = {"name": name, "protocol": "modbus_tcp", "machine": name, "host": "127.0.0.1", "port": port,
              "unit_id": unit, "timeout_s": 0.3, "poll_ms": 50, "backoff_max_s": 0.5, "max_gap": 0,
              "tags": tags}  # fmt: skip
    device.update(extra)
    return device


def counter_tags(width: int = 16, analog_always: bool = False) -> list[dict[str, Any]]:
    ctype = "uint16" if width == 16 else "uint32"
    tags: list[dict[str, Any]] = [
        {"name": "good_count", "table": "holding", "address": 0, "type": ctype, "role": "counter",
         "width": width},
        {"name": "scrap_count", "table": "holding", "address": 2, "type": ctype, "role": "scrap_counter",
         "width": width},
        {"name": "state", "table": "holding", "address": 4, "type": "uint16", "role": "state"},
        {"name": "running", "table": "coil", "address": 0, "type": "bool", "role": "run"},
    ]  # fmt: skip
    if analog_always:
        for index, name in enumerate(("temperature", "pressure", "power")):
            tags.append(
                {"name": name, "table": "input", "address": 2 * index, "type": "float32", "report": "always"}
            )
    return tags


def write_config(path: Path, broker_port: int, devices: list[dict[str, Any]], **extra: Any) -> Path:
    config: dict[str, Any] = {
        "site": "test", "edge_id": "edge1",
        "broker": {"host": "127.0.0.1", "port": broker_port, "keepalive": 5, "reconnect_max_s": 1},
        "buffer": {"path": str(path.parent / "outbox.db")},
        "batching": {"max_samples": 200, "max_delay_ms": 50},
        "publishing": {"max_inflight": 20, "replay_rate": 500, "ack_timeout_s": 5, "status_interval_s": 1},
        "logging": {"level": "INFO"},
        "devices": devices,
    }  # fmt: skip
    for key, value in extra.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    path.write_bytes(msgspec.yaml.encode(config))
    return path


def edge_process(config: Path, log: Path) -> TaktProcess:
    process = TaktProcess(["edge", "--config", str(config)], log)
    process.start()
    return process


class Consumer:
    """A paho client that stores batches by seq and acks the highest contiguous seq, like the server."""

    def __init__(self, port: int, site: str = "test", edge_id: str = "edge1", ack: bool = True) -> None:
        self.port, self.site, self.edge_id = port, site, edge_id
        self.acking = ack
        self.lock = threading.Lock()
        self.batches: dict[int, messages.DataBatch] = {}
        self.raw: dict[int, bytes] = {}
        self.duplicates = 0
        self.contiguous = 0
        self.statuses: list[messages.Status] = []
        self.results: list[messages.CommandResult] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"consumer-{edge_id}", clean_session=False
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)

    def start(self) -> Consumer:
        self.client.connect_async("127.0.0.1", self.port, keepalive=5)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        site, edge = self.site, self.edge_id
        client.subscribe(
            [(topics.data(site, edge), 1), (topics.status(site, edge), 1), (topics.result(site, edge), 1)]
        )

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        kind = topics.parse(msg.topic).kind
        if kind == "status":
            self.statuses.append(messages.decode(messages.Status, msg.payload))
            return
        if kind == "result":
            self.results.append(messages.decode(messages.CommandResult, msg.payload))
            return
        batch = messages.decode(messages.DataBatch, msg.payload)
        with self.lock:
            if batch.seq in self.batches:
                self.duplicates += 1
                assert self.batches[batch.seq].samples == batch.samples, f"seq {batch.seq} changed content"
            self.batches[batch.seq] = batch
            while self.contiguous + 1 in self.batches:
                self.contiguous += 1
            contiguous = self.contiguous
        if self.acking:
            self.send_ack(contiguous)

    def send_ack(self, seq: int) -> None:
        ack = messages.Ack(edge_id=self.edge_id, seq=seq)
        self.client.publish(topics.ack(self.site, self.edge_id), messages.encode(ack), qos=1, retain=True)

    def samples(self, machine: str, tag: str) -> list[messages.Sample]:
        with self.lock:
            ordered = [self.batches[seq] for seq in sorted(self.batches)]
        return [s for b in ordered for s in b.samples if s.machine == machine and s.tag == tag]

    def last_status(self) -> messages.Status | None:
        return self.statuses[-1] if self.statuses else None

    def command(self, name: str, command: messages.Command) -> None:
        self.client.publish(topics.cmd(self.site, self.edge_id, name), messages.encode(command), qos=1)


def all_tags(byte: str) -> list[dict[str, Any]]:
    return [
        {"name": "good_count", "table": "holding", "address": 0, "type": "uint32", "role": "counter",
         "width": 32},
        {"name": "scrap_count", "table": "holding", "address": 2, "type": "uint32", "role": "scrap_counter",
         "width": 32},
        {"name": "state", "table": "holding", "address": 4, "type": "uint16", "role": "state"},
        {"name": "fault_code", "table": "holding", "address": 5, "type": "uint16"},
        {"name": "status_bits", "table": "holding", "address": 6, "type": "uint16"},
        {"name": "running_bit", "table": "holding", "address": 6, "type": "bool", "bit": 0},
        {"name": "ambient", "table": "holding", "address": 7, "type": "int16", "byte_order": byte,
         "scale": 0.1},
        {"name": "total_cycles", "table": "holding", "address": 8, "type": "int64"},
        {"name": "program", "table": "holding", "address": 20, "type": "string(32)"},
        {"name": "work_order", "table": "holding", "address": 40, "type": "string(20)", "writable": True},
        {"name": "setpoint", "table": "holding", "address": 50, "type": "uint16", "writable": True},
        {"name": "running", "table": "coil", "address": 0, "type": "bool", "role": "run"},
        {"name": "fault", "table": "coil", "address": 1, "type": "bool", "role": "fault"},
        {"name": "running_di", "table": "discrete", "address": 0, "type": "bool"},
        {"name": "temperature", "table": "input", "address": 0, "type": "float32"},
        {"name": "pressure", "table": "input", "address": 2, "type": "float32"},
        {"name": "power", "table": "input", "address": 4, "type": "float32"},
        {"name": "energy", "table": "input", "address": 6, "type": "float64"},
    ]  # fmt: skip


def source(sim: Simulator, name: str, unit: int, tags: list[dict[str, Any]], **extra: Any
           ) -> tuple[ModbusSource, list[SampleRow]]:  # fmt: skip
    line = extra.pop("line", None)
    device = msgspec.convert(modbus_device(name, sim.modbus_port, unit, tags, **extra), Device)
    rows: list[SampleRow] = []
    points = [TagPoint(device, tag, rows.append) for tag in device.tags]
    return ModbusSource(device, points, Health(name), line), rows

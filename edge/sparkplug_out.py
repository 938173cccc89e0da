"""The edge as a Sparkplug B edge node (Sparkplug 3.0), next to Takt's own acknowledged stream.

One Sparkplug device per machine, one metric per tag with a stable alias (its place in the sorted
(machine, tag) list) and the data type of its configured `type`. Its own MQTT client (clean session, as
the specification requires for 3.1.1): the NDEATH will carries the bdSeq of the connection, which rises by
one (mod 256) before every connect; on connect NBIRTH (bdSeq, `Node Control/Rebirth`) and a DBIRTH per
machine whose devices are connected, with current values; then DDATA by alias only, every `publish_ms`,
with the node's seq 0-255. A machine whose device goes down gets a DDEATH, and a DBIRTH when it is back.
NCMD `Node Control/Rebirth` = true answers with new births (same bdSeq). DCMD writes go through the
agent's `write`, with its writable-tag check; a refused one is logged and counted, never written.
Sparkplug data is QoS 0: what is read while its broker is away is dropped (counted), and the next birth
carries the current values. Takt's own stream is not touched by any of this.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.buffer import SampleRow
from edge.config import EdgeConfig, SparkplugOut
from edge.errors import CommandError, ConfigError
from edge.publisher import configure_client
from edge.sources.base import TagPoint
from shared import messages
from shared.sparkplug.payload import (
    BD_SEQ,
    REBIRTH,
    DataType,
    Metric,
    Payload,
    PayloadError,
    ScalarValue,
    decode,
    set_value,
    value_of,
)
from shared.sparkplug.topic import MessageType, Topic, TopicError, parse

log = logging.getLogger(__name__)

_TYPES = {
    "bool": DataType.Boolean, "int16": DataType.Int16, "uint16": DataType.UInt16, "int32": DataType.Int32,
    "uint32": DataType.UInt32, "int64": DataType.Int64, "uint64": DataType.UInt64, "float32": DataType.Float,
    "float64": DataType.Double,
}  # fmt: skip
_QUALITY = {"uncertain": 64, "bad": 0, "stale": 0}  # Ignition's quality codes (good is 192, not sent)


def datatype_of(point: TagPoint) -> int:
    """The Sparkplug data type of a tag: its configured type; a state is Takt's state code (Int32); a
    scaled integer is a Double."""
    tag = point.tag
    if tag.role == "state":
        return DataType.Int32
    if tag.type.startswith("string"):
        return DataType.String
    found = _TYPES.get(tag.type, DataType.Double)
    if found not in (DataType.Boolean, DataType.Float) and (tag.scale != 1.0 or tag.offset != 0.0):
        return DataType.Double
    return found


@dataclass(frozen=True)
class Birth:
    """The metrics of one birth: (machine, tag) -> (alias, data type)."""

    metrics: dict[tuple[str, str], tuple[int, int]]
    by_alias: dict[int, tuple[str, str]]


class SparkplugNode:
    def __init__(
        self,
        config: EdgeConfig,
        points: Callable[[], list[TagPoint]],
        machine_connected: Callable[[str], bool],
        write: Callable[[str, str, messages.Value], Awaitable[None]],
    ) -> None:
        assert config.sparkplug is not None
        self.out: SparkplugOut = config.sparkplug
        self.group, self.node = self.out.group, self.out.node or config.edge_id
        self.broker = self.out.broker or config.broker
        self.points, self.machine_connected, self.write = points, machine_connected, write
        self.loop = asyncio.get_running_loop()
        self.queue: deque[SampleRow] = deque()
        self.connected = False
        self.bd_seq = -1  # +1 before every connect: the first connection's is 0
        self.seq = 0
        self.birth = Birth({}, {})
        self.born: dict[str, bool] = {}  # machine -> DBIRTH sent (False: DDEATH sent)
        self.dropped = self.refused_writes = self.bad_commands = self.bad_values = 0
        self.writes: set[asyncio.Task[None]] = set()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.broker.client_id or f"takt-spb-{config.site}-{config.edge_id}",
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        configure_client(self.client, self.broker)
        self.client.on_pre_connect = self._on_pre_connect
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=self.broker.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        """A clean stop publishes the NDEATH itself (the broker sends the will only on a lost connection)."""
        if self.connected:
            info = self.client.publish(self._topic(MessageType.NDEATH), self._death(), qos=1)
            info.wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    def offer(self, row: SampleRow) -> None:
        """A sample the edge read (the sources' sink, next to the outbox's batcher)."""
        if len(self.queue) >= self.out.queue:
            self.dropped += 1
            return
        self.queue.append(row)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.out.publish_ms / 1000)
            if not self.connected:
                self.dropped += len(self.queue)
                self.queue.clear()
                continue
            self._follow_devices()
            self._publish_data()

    def rebirth(self) -> None:
        """NBIRTH (seq 0) and a DBIRTH per machine whose devices are connected: every metric, by name and
        alias, with its current value."""
        if not self.connected:
            return
        points = sorted(self.points(), key=lambda p: (p.machine, p.name))
        metrics = {(p.machine, p.name): (alias, datatype_of(p)) for alias, p in enumerate(points, start=1)}
        self.birth = Birth(metrics, {alias: key for key, (alias, _) in metrics.items()})
        self.seq = 0
        node = Payload(timestamp=_now(), seq=0)
        _metric(node, BD_SEQ, DataType.UInt64, self.bd_seq)
        _metric(node, REBIRTH, DataType.Boolean, False)
        self.client.publish(self._topic(MessageType.NBIRTH), node.SerializeToString(), qos=0)
        self.born = {}
        for machine in sorted({p.machine for p in points}):
            if self.machine_connected(machine):
                self._device_birth(machine, [p for p in points if p.machine == machine])
            else:
                self.born[machine] = False
        log.info("Sparkplug births published as %s/%s (bdSeq %d, %d metrics)",
                 self.group, self.node, self.bd_seq, len(metrics))  # fmt: skip

    # -- publishing ---------------------------------------------------------------------------------------

    def _device_birth(self, machine: str, points: list[TagPoint]) -> None:
        payload = Payload(timestamp=_now(), seq=self._next_seq())
        for point in points:
            alias, datatype = self.birth.metrics[(point.machine, point.name)]
            metric = _metric(payload, point.name, datatype, None, alias)
            self._set(metric, datatype, point.value)
            if point.tag.unit:
                _property(metric, "engUnit", point.tag.unit)
            _property(metric, "takt.role", point.tag.role)
            _property(metric, "takt.writable", point.tag.writable)
        self.client.publish(self._topic(MessageType.DBIRTH, machine), payload.SerializeToString(), qos=0)
        self.born[machine] = True

    def _follow_devices(self) -> None:
        for machine, born in list(self.born.items()):
            connected = self.machine_connected(machine)
            if connected and not born:
                self._device_birth(machine, [p for p in self.points() if p.machine == machine])
            elif born and not connected:
                payload = Payload(timestamp=_now(), seq=self._next_seq())
                self.client.publish(
                    self._topic(MessageType.DDEATH, machine), payload.SerializeToString(), qos=0
                )
                self.born[machine] = False

    def _publish_data(self) -> None:
        rows, self.queue = self.queue, deque()
        by_machine: dict[str, Payload] = {}
        for machine, tag, ts_ms, value, quality in rows:
            known = self.birth.metrics.get((machine, tag))
            if known is None or not self.born.get(machine):
                continue  # not in the current birth, or its device is dead: the next birth has it
            payload = by_machine.get(machine)
            if payload is None:
                payload = by_machine[machine] = Payload(timestamp=_now())
            alias, datatype = known
            metric = payload.metrics.add(alias=alias, timestamp=ts_ms, datatype=datatype)
            self._set(metric, datatype, value if quality != "bad" else None)
            if quality in _QUALITY:
                _property(metric, "Quality", _QUALITY[quality])
        for machine, payload in by_machine.items():
            payload.seq = self._next_seq()
            self.client.publish(self._topic(MessageType.DDATA, machine), payload.SerializeToString(), qos=0)

    def _set(self, metric: Metric, datatype: int, value: Any) -> None:
        try:
            set_value(metric, datatype, value)
        except PayloadError as err:  # e.g. an OPC UA value that its configured type cannot carry
            self.bad_values += 1
            if self.bad_values == 1 or self.bad_values % 1000 == 0:
                log.warning("Sparkplug: %s (sent as null; %d so far)", err, self.bad_values)
            metric.ClearField("value")
            metric.is_null = True

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) % 256
        return self.seq

    def _topic(self, kind: MessageType, device: str | None = None) -> str:
        return str(Topic(self.group, kind, self.node, device))

    def _death(self) -> bytes:
        payload = Payload(timestamp=_now())
        _metric(payload, BD_SEQ, DataType.UInt64, self.bd_seq)
        return payload.SerializeToString()

    # -- MQTT (paho's thread hops to the event loop) ------------------------------------------------------

    def _on_pre_connect(self, client: mqtt.Client, _u: Any) -> None:
        self.bd_seq = (self.bd_seq + 1) % 256
        client.will_set(self._topic(MessageType.NDEATH), self._death(), qos=1, retain=False)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("Sparkplug broker %s:%d refused the connection: %s",
                      self.broker.host, self.broker.port, reason)  # fmt: skip
            return
        client.subscribe([(self._topic(MessageType.NCMD), 0), (f"{self._topic(MessageType.DCMD, '+')}", 0)])
        self.loop.call_soon_threadsafe(self._connected)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.loop.call_soon_threadsafe(self._disconnected, str(reason))

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.loop.call_soon_threadsafe(self._command, message.topic, bytes(message.payload))

    def _connected(self) -> None:
        self.connected = True
        log.info("Sparkplug connected to %s:%d", self.broker.host, self.broker.port)
        self.rebirth()

    def _disconnected(self, reason: str) -> None:
        if self.connected:
            log.warning("Sparkplug disconnected: %s (its data is dropped until the next birth)", reason)
        self.connected = False

    def _command(self, topic: str, raw: bytes) -> None:
        try:
            parsed = parse(topic)
            payload = decode(raw)
            if parsed.type == MessageType.NCMD:
                self._node_command(payload)
            elif parsed.device is not None:
                for metric in payload.metrics:
                    machine, tag, value = self._write_target(parsed.device, metric)
                    task = self.loop.create_task(self._write(machine, tag, value))
                    self.writes.add(task)  # referenced until done (the loop keeps weak refs)
                    task.add_done_callback(self.writes.discard)
        except (PayloadError, TopicError, CommandError) as err:
            self.bad_commands += 1
            log.warning("Sparkplug command on %s refused: %s", topic[:200], err)

    def _node_command(self, payload: Payload) -> None:
        for metric in payload.metrics:
            if metric.name == REBIRTH and value_of(metric, DataType.Boolean) is True:
                log.info("Sparkplug: rebirth requested")
                self.rebirth()
            else:
                raise CommandError(f"unknown node command {metric.name or metric.alias!r}")

    def _write_target(self, device: str, metric: Metric) -> tuple[str, str, ScalarValue]:
        key = self.birth.by_alias.get(metric.alias) if metric.HasField("alias") else (device, metric.name)
        if key is None or key not in self.birth.metrics or key[0] != device:
            raise CommandError(f"no metric {metric.name or metric.alias!r} on device {device!r}")
        _, datatype = self.birth.metrics[key]
        return key[0], key[1], value_of(metric, metric.datatype or datatype)

    async def _write(self, machine: str, tag: str, value: ScalarValue) -> None:
        try:
            await self.write(machine, tag, value)
        except (CommandError, ConfigError) as err:
            self.refused_writes += 1
            log.warning("Sparkplug DCMD %s/%s = %r refused: %s", machine, tag, value, err)
        except Exception:  # the PLC or a bug: logged, the node goes on
            self.refused_writes += 1
            log.exception("Sparkplug DCMD %s/%s = %r failed", machine, tag, value)


def _now() -> int:
    return int(time.time() * 1000)


def _metric(payload: Payload, name: str, datatype: int, value: Any, alias: int | None = None) -> Metric:
    metric = payload.metrics.add(name=name, datatype=datatype, timestamp=payload.timestamp)
    if alias is not None:
        metric.alias = alias
    if value is not None:
        set_value(metric, datatype, value)
    return metric


def _property(metric: Metric, key: str, value: str | bool | int) -> None:
    properties = metric.properties
    properties.keys.append(key)
    entry = properties.values.add()
    if isinstance(value, bool):
        entry.type, entry.boolean_value = DataType.Boolean, value
    elif isinstance(value, int):
        entry.type, entry.int_value = DataType.Int32, value
    else:
        entry.type, entry.string_value = DataType.String, value

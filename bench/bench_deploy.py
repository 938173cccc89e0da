"""The demo's brokers (takt/broker.py): QoS 1 end-to-end throughput of 100-sample batches, mosquitto (as
BrokerProcess) against the embedded amqtt, one publisher and one persistent-session subscriber on
loopback."""

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.table import Table
from shared.messages import DataBatch, Sample, encode
from takt.broker import Broker, demo_broker, free_port

TOPIC = "takt/v1/bench/edge-1/data"


def _payload() -> bytes:
    samples = [Sample(f"m{i % 6}", f"tag_{i}", 1_700_000_000_000 + i, i * 1.5) for i in range(100)]
    return encode(DataBatch(edge_id="edge-1", seq=1, sent_ms=1_700_000_000_000, samples=samples))


def _client(port: int, client_id: str, clean: bool) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    client.max_inflight_messages_set(20)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _throughput(broker: Broker, count: int) -> float:
    """Batches/s from the first publish to the last delivery at the subscriber."""
    done = threading.Event()
    received = [0]

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        received[0] += 1
        if received[0] == count:
            done.set()

    subscribed = threading.Event()
    sub = _client(broker.port, "bench-server", clean=False)
    sub.on_message = on_message
    sub.on_subscribe = lambda *_args: subscribed.set()
    sub.subscribe(TOPIC, qos=1)
    subscribed.wait(10)
    pub = _client(broker.port, "bench-edge", clean=True)
    payload = _payload()
    start = time.perf_counter()
    infos = [pub.publish(TOPIC, payload, qos=1) for _ in range(count)]
    finished = done.wait(120)
    elapsed = time.perf_counter() - start
    for info in infos[-1:]:
        info.wait_for_publish(10)
    for client in (pub, sub):
        client.disconnect()
        client.loop_stop()
    if not finished:
        raise RuntimeError(f"{broker.kind}: only {received[0]} of {count} batches arrived")
    return count / elapsed


def run() -> Table:
    table = Table(f"deploy: demo brokers, QoS 1 end to end, 100-sample batches (~{len(_payload()):,} bytes)")
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, count in (("mosquitto", 5000), ("amqtt", 2000)):
            broker = demo_broker(Path(tmp) / kind, port=free_port(), prefer=kind)  # type: ignore[arg-type]
            broker.start()
            try:
                rates[kind] = _throughput(broker, count)
            finally:
                broker.stop()
    table.add("mosquitto (BrokerProcess)", rates["mosquitto"], "batches/s")
    table.add("amqtt 0.12 (EmbeddedBroker)", rates["amqtt"], "batches/s", rates["mosquitto"], "of mosquitto")
    table.add("mosquitto, samples", rates["mosquitto"] * 100, "samples/s")
    return table

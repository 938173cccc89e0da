"""Helpers for ingestion tests: a small plant in the database, an MQTT publisher, ack watching, polling."""

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine
from sqlmodel import Session

from server.models.catalog import Product
from server.models.ingest import EdgeCursor
from server.models.plant import Machine, Site, Tag
from server.models.production import Operation, OperationRun, WorkOrder
from shared import topics
from shared.messages import Ack, DataBatch, Sample, decode, encode
from tests.support.waiting import wait_until

wait_for = wait_until  # the name the ingestion tests import

T0 = 1_700_000_000_000
SITE = "demo"
EDGE = "edge-1"
TAGS = [
    ("good_count", "counter", 16),
    ("scrap_count", "scrap_counter", 16),
    ("state", "state", None),
    ("running", "run", None),
    ("temperature", "analog", None),
]
R = TypeVar("R")


@dataclass
class PlantIds:
    site_id: int
    machines: dict[str, int]
    operation_id: int
    order_id: int


def make_plant(
    engine: Engine,
    machines: tuple[str, ...] = ("m1",),
    run_from: int = T0,
    owners: dict[str, str] | None = None,
) -> PlantIds:
    """Site `demo`, machines with the canonical tags, an order whose operation runs on the first machine.
    Each machine belongs to EDGE (an edge may publish only its own machines), or to `owners[code]`."""
    with Session(engine, expire_on_commit=False) as session:
        site = Site(code=SITE, name="Demo")
        session.add(site)
        session.flush()
        assert site.id is not None
        ids: dict[str, int] = {}
        for code in machines:
            machine = Machine(site_id=site.id, code=code, name=code, edge_id=(owners or {}).get(code, EDGE))
            session.add(machine)
            session.flush()
            assert machine.id is not None
            ids[code] = machine.id
            for name, role, width in TAGS:
                session.add(Tag(machine_id=machine.id, name=name, role=role, width=width))
        product = Product(code="P1", name="Part")
        session.add(product)
        session.flush()
        assert product.id is not None
        order = WorkOrder(number="WO-1", quantity=1000, product_id=product.id, status="in_progress")
        session.add(order)
        session.flush()
        assert order.id is not None
        op = Operation(work_order_id=order.id, step_no=10, name="make", machine_id=ids[machines[0]],
                       planned_qty=1000, status="running", started_ms=run_from)  # fmt: skip
        session.add(op)
        session.flush()
        assert op.id is not None
        session.add(OperationRun(operation_id=op.id, machine_id=ids[machines[0]], start_ms=run_from))
        session.commit()
        return PlantIds(site.id, ids, op.id, order.id)


def batch(seq: int, samples: list[tuple[Any, ...]], edge: str = EDGE) -> bytes:
    return encode(DataBatch(edge_id=edge, seq=seq, sent_ms=T0, samples=[Sample(*s) for s in samples]))


def counts(
    seq: int, good: int, scrap: int = 0, machine: str = "m1", ts: int | None = None, edge: str = EDGE
) -> bytes:
    """A batch with one good_count and one scrap_count sample at T0 + seq seconds."""
    ts = T0 + seq * 1000 if ts is None else ts
    return batch(seq, [(machine, "good_count", ts, good), (machine, "scrap_count", ts, scrap),
                       (machine, "temperature", ts, 20.0 + seq)], edge=edge)  # fmt: skip


@dataclass
class Broker:
    """A test's MQTT client: publishes as edges, records acks."""

    port: int
    acks: dict[str, int] = field(default_factory=dict)
    ack_history: list[tuple[str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", self.port)
        self.client.subscribe(f"{topics.PREFIX}/+/+/ack", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        ack = decode(Ack, msg.payload)
        with self._lock:
            self.acks[ack.edge_id] = ack.seq
            self.ack_history.append((ack.edge_id, ack.seq))

    def publish(self, payload: bytes, edge: str = EDGE, kind: str = "data", topic: str | None = None) -> None:
        target = topic or f"{topics.PREFIX}/{SITE}/{edge}/{kind}"
        self.client.publish(target, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def machine_counts(engine: Engine, op_id: int) -> tuple[int, int]:
    """(machine_good, machine_scrap) of an operation."""
    with Session(engine) as session:
        op = session.get(Operation, op_id)
        assert op is not None
        return op.machine_good, op.machine_scrap


def cursor(engine: Engine, edge: str = EDGE) -> int:
    """The edge's last applied seq, -1 before its first batch."""
    with Session(engine) as session:
        row = session.get(EdgeCursor, edge)
        return row.last_applied_seq if row else -1

"""Takt as a Sparkplug B host, fed by an edge node built on Eclipse Tahu's JavaScript client (npm
sparkplug-client, tests/outsiders/sparkplug_node.js), not on Takt's payload code, through a real mosquitto:
the parts Takt counts are exactly the ones the node made, through a seq gap (rebirth requested and
answered), a counter reset, a device death, and a node restart with a new bdSeq; bad messages are
dead-lettered with their reason and ingestion goes on."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from server.ingest import Ingestor
from server.ingest.sparkplug_apply import LOSS_ROLE, edge_id_of
from server.models.ingest import CountEvent, DataLossEpisode, DeadLetter, MachineStateSegment
from shared.sparkplug.payload import Payload
from tests.server.ingest.support import make_plant, wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.outsiders import OutsiderPlc

GROUP, NODE = "plant", "gw1"
EDGE = edge_id_of(GROUP, NODE)


def counted(engine: Engine, machine_id: int) -> int:
    with Session(engine) as session:
        total = session.exec(
            select(func.sum(CountEvent.good)).where(CountEvent.machine_id == machine_id)
        ).one()
        return int(total or 0)


def state_of(engine: Engine, machine_id: int) -> str | None:
    with Session(engine) as session:
        segment = session.exec(
            select(MachineStateSegment)
            .where(MachineStateSegment.machine_id == machine_id)
            .order_by(col(MachineStateSegment.start_ms).desc(), col(MachineStateSegment.id).desc())
        ).first()
        return segment.state if segment is not None else None


def rows(engine: Engine, model: Any) -> list[Any]:
    with Session(engine) as session:
        return list(session.exec(select(model)).all())


@pytest.fixture
def node(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Callable[..., OutsiderPlc]]:
    started: list[OutsiderPlc] = []

    def start(bd_seq: int, m1: int, m2: int) -> OutsiderPlc:
        args = [f"mqtt://127.0.0.1:{mosquitto.port}", GROUP, NODE, str(bd_seq), f"m1={m1}", f"m2={m2}"]
        plc = OutsiderPlc("sparkplug_node.js", args, tmp_path / f"node-{bd_seq}.log")
        started.append(plc)
        return plc

    yield start
    for plc in started:
        if plc.process.poll() is None:
            plc.stop()


def test_takt_counts_an_outsider_nodes_parts_exactly(
    engine: Engine,
    mosquitto: Mosquitto,
    start_ingestor: Callable[..., Ingestor],
    node: Callable[..., OutsiderPlc],
) -> None:
    ids = make_plant(engine, ("m1", "m2"), owners={"m1": EDGE, "m2": EDGE}).machines
    ingestor = start_ingestor(sparkplug_groups=[GROUP], sparkplug_host_id="takt-test")
    assert ingestor.sparkplug is not None and ingestor.sparkplug.connected.wait(10)
    metrics = ingestor.metrics

    first = node(0, 100, 60000)
    wait_for(lambda: metrics.sparkplug_messages >= 3, what="the node's births")
    first.send("run m1 20")
    first.send("run m2 15")
    first.send("skip")  # a lost message: Takt asks for a rebirth and reports the loss
    first.send("run m1 5")
    wait_for(lambda: first.send("read")["rebirths"] >= 1, what="the rebirth answered")
    first.send("set m2 0")  # an operator resets the counter of the stopped machine
    made = first.send("run m2 7")["made"]
    wait_for(lambda: counted(engine, ids["m1"]) == made["m1"], what="m1 counted")
    wait_for(lambda: counted(engine, ids["m2"]) == made["m2"], what="m2 counted")

    first.send("ddeath m2")
    wait_for(lambda: state_of(engine, ids["m2"]) == "offline", what="m2 without data after its DDEATH")
    assert state_of(engine, ids["m1"]) != "offline"
    before = first.send("read")
    first.send("stop")
    wait_for(lambda: state_of(engine, ids["m1"]) == "offline", what="m1 without data after the NDEATH")

    second = node(1, before["counts"]["m1"], before["counts"]["m2"])  # a restart: a new bdSeq
    again = second.send("run m1 10")["made"]
    again = second.send("run m2 3")["made"]
    total = {m: made[m] + again[m] for m in made}
    wait_for(lambda: counted(engine, ids["m1"]) == total["m1"], what="m1 counted after the restart")
    wait_for(lambda: counted(engine, ids["m2"]) == total["m2"], what="m2 counted after the restart")
    assert state_of(engine, ids["m1"]) != "offline"

    losses = [row for row in rows(engine, DataLossEpisode) if row.edge_id == EDGE]
    assert len(losses) == 1 and losses[0].samples == {LOSS_ROLE: 1}
    assert (
        losses[0].from_ms is not None and losses[0].to_ms is not None and losses[0].from_ms <= losses[0].to_ms
    )

    bad = paho.Client(CallbackAPIVersion.VERSION2)
    bad.connect("127.0.0.1", mosquitto.port)
    bad.loop_start()
    unknown_alias = Payload(timestamp=1, seq=3)
    unknown_alias.metrics.add(alias=77, int_value=1)
    for topic, data in [
        (f"spBv1.0/{GROUP}/DDATA/{NODE}/m1", b"\xff\xff\x00not protobuf"),
        (f"spBv1.0/{GROUP}/DDATA/{NODE}/m1", unknown_alias.SerializeToString()),
        (f"spBv1.0/{GROUP}/DDATA/gw9/m1", unknown_alias.SerializeToString()),
    ]:
        bad.publish(topic, data, qos=1).wait_for_publish(5)
    bad.disconnect()
    bad.loop_stop()
    wait_for(lambda: len(rows(engine, DeadLetter)) >= 3, what="three dead letters")
    reasons = " | ".join(row.reason for row in rows(engine, DeadLetter))
    assert "malformed Sparkplug B protobuf" in reasons
    assert "unknown metric alias 77" in reasons
    assert "DDATA from gw9 before its NBIRTH" in reasons
    assert metrics.sparkplug_dead_letters == 3

    final = second.send("run m1 4")["made"]  # ingestion goes on
    wait_for(lambda: counted(engine, ids["m1"]) == made["m1"] + final["m1"], what="counting after bad input")


def test_the_host_state_is_retained_online_then_offline_with_the_same_timestamp(
    mosquitto: Mosquitto, start_ingestor: Callable[..., Ingestor]
) -> None:
    """Sparkplug 3.0 STATE: `spBv1.0/STATE/{host_id}`, retained JSON; a clean stop says offline itself."""
    ingestor = start_ingestor(sparkplug_groups=[GROUP], sparkplug_host_id="takt-state")
    assert ingestor.sparkplug is not None and ingestor.sparkplug.connected.wait(10)
    seen: list[dict[str, Any]] = []
    late: list[dict[str, Any]] = []
    readers = [state_reader(mosquitto, seen)]
    try:
        wait_for(lambda: seen, what="the online STATE")
        assert seen[0]["online"] is True and seen[0]["timestamp"] > 0
        readers.append(state_reader(mosquitto, late))  # subscribing later: the broker kept it
        wait_for(lambda: late, what="the retained STATE")
        assert late[0] == {**seen[0], "retain": True}
        ingestor.stop()
        wait_for(lambda: len(seen) >= 2, what="the offline STATE")
        assert seen[-1] == {"retain": False, "online": False, "timestamp": seen[0]["timestamp"]}
    finally:
        for reader in readers:
            reader.disconnect()
            reader.loop_stop()


def state_reader(mosquitto: Mosquitto, into: list[dict[str, Any]]) -> paho.Client:
    reader = paho.Client(CallbackAPIVersion.VERSION2)
    reader.on_message = lambda _c, _u, msg: into.append({"retain": msg.retain, **json.loads(msg.payload)})
    reader.connect("127.0.0.1", mosquitto.port)
    reader.subscribe("spBv1.0/STATE/takt-state", qos=1)
    reader.loop_start()
    return reader

"""Takt's edge as a Sparkplug B edge node (edge/sparkplug_out.py, docs/sparkplug.md "Egress"), read by a
host client built on Eclipse Tahu's payload library and MQTT.js (tests/outsiders/sparkplug_host.js), not on
Takt's code, through a real mosquitto, with the simulator's Modbus presses as the PLCs: births with names,
aliases, data types and properties; data by alias with the node's seq; the counter's values equal to the
simulator's; a rebirth answered; a DCMD write reaching the PLC and one to a tag not writable refused; a
device's DDEATH and DBIRTH; the NDEATH will with the birth's bdSeq when the edge is killed."""

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mosquitto import Mosquitto
from tests.support.outsiders import OutsiderPlc
from tests.support.processes import edge_agent
from tests.support.simulator import Simulator
from tests.support.waiting import wait_until

GROUP, NODE = "takt-plant", "edge-spb"
PRESSES = ("pa", "pb")
ACCEL = 20.0
TYPES = {"good_count": "UInt32", "state": "Int32", "setpoint": "UInt16", "ambient": "Double",
         "work_order": "String"}  # fmt: skip


def plant(path: Path) -> Path:
    machines = [
        {"id": name, "kind": "stamping_press", "line": "P", "protocol": "modbus", "unit_id": unit,
         "cycle_time_s": 2.0, "jitter": 0.05, "scrap_probability": 0.0, "counter_width": 32}
        for unit, name in enumerate(PRESSES, start=1)
    ]  # fmt: skip
    path.write_bytes(msgspec.yaml.encode({"site": "demo", "tick_ms": 20, "seed": 3, "machines": machines}))
    return path


def edge_config(path: Path, sim: Simulator, port: int) -> Path:
    tags = [
        {"name": "good_count", "table": "holding", "address": 0, "type": "uint32", "role": "counter"},
        {"name": "state", "table": "holding", "address": 4, "role": "state"},
        {"name": "setpoint", "table": "holding", "address": 50, "type": "uint16", "writable": True},
        {"name": "ambient", "table": "holding", "address": 7, "type": "int16", "scale": 0.1, "unit": "C"},
        {"name": "work_order", "table": "holding", "address": 40, "type": "string(20)"},  # not writable here
    ]
    devices = [
        {"name": name, "protocol": "modbus_tcp", "machine": name, "host": "127.0.0.1", "unit_id": unit,
         "port": sim.modbus_port, "poll_ms": 50, "timeout_s": 0.3, "backoff_max_s": 0.5, "tags": tags}
        for unit, name in enumerate(PRESSES, start=1)
    ]  # fmt: skip
    config = {
        "site": "demo", "edge_id": "spb", "broker": {"host": "127.0.0.1", "port": port, "keepalive": 5},
        "buffer": {"path": str(path.parent / "outbox.db")}, "batching": {"max_delay_ms": 50},
        "sparkplug": {"group": GROUP, "node": NODE, "publish_ms": 100}, "devices": devices,
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.yaml.encode(config))
    return path


@pytest.fixture
def host(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[OutsiderPlc]:
    client = OutsiderPlc(
        "sparkplug_host.js", [f"mqtt://127.0.0.1:{mosquitto.port}", GROUP], tmp_path / "host.log"
    )
    yield client
    client.stop()


def seen(host: OutsiderPlc, kind: str | None = None, device: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = host.send("messages")["messages"]
    return [
        m for m in found if (kind is None or m["type"] == kind) and (device is None or m["device"] == device)
    ]


def metric(message: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in message["metrics"] if m.get("name") == name)


def last_value(host: OutsiderPlc, device: str, alias: int) -> Any:
    """The newest value of a metric on `device` from its DBIRTH or DDATA (by alias, as the data carries)."""
    value = None
    for message in seen(host, device=device):
        if message["type"] in ("DBIRTH", "DDATA"):
            for m in message["metrics"]:
                if m.get("alias") == alias:
                    value = m["value"]
    return value


def set_state(sim: Simulator, state: str) -> None:
    for press in PRESSES:
        sim.post("/faults", {"action": "set_state", "machine": press, "state": state})


@pytest.mark.faults
def test_a_takt_edge_is_read_by_an_independent_sparkplug_host(
    mosquitto: Mosquitto, start_simulator: Any, host: OutsiderPlc, tmp_path: Path
) -> None:
    sim = start_simulator(config=plant(tmp_path / "plant.yaml"), accel=ACCEL, extra=["--scenario", "none"])
    set_state(sim, "idle")
    config = edge_config(tmp_path / "edge" / "edge.yaml", sim, mosquitto.port)
    with edge_agent(config, tmp_path / "edge.log") as edge:
        wait_until(lambda: len(seen(host, "DBIRTH")) == 2, 30, "a DBIRTH per machine")
        nbirth = seen(host, "NBIRTH")[0]
        assert (nbirth["node"], nbirth["seq"]) == (NODE, 0)
        assert metric(nbirth, "bdSeq") == {**metric(nbirth, "bdSeq"), "type": "UInt64", "value": 0}
        assert metric(nbirth, "Node Control/Rebirth")["type"] == "Boolean"
        births = {m["device"]: m for m in seen(host, "DBIRTH")}
        aliases: dict[tuple[str, str], int] = {}
        for press in PRESSES:
            by_name = {m["name"]: m for m in births[press]["metrics"]}
            assert {n: m["type"] for n, m in by_name.items()} == TYPES
            aliases |= {(press, n): m["alias"] for n, m in by_name.items()}
            assert by_name["ambient"]["properties"]["engUnit"]["value"] == "C"
            assert by_name["setpoint"]["properties"]["takt.writable"]["value"] is True
            assert by_name["good_count"]["properties"]["takt.role"]["value"] == "counter"
        assert len(set(aliases.values())) == len(aliases)  # unique over the node

        set_state(sim, "running")
        wait_until(lambda: all(sim.ground_truth()["machines"][p]["good"] >= 8 for p in PRESSES), 30, "parts")
        set_state(sim, "idle")
        time.sleep(1.0)
        truth = {p: sim.ground_truth()["machines"][p]["good"] for p in PRESSES}

        def counters() -> dict[str, Any]:  # UInt32 in long_value: Tahu's JS decoder reads only that field
            return {p: last_value(host, p, aliases[(p, "good_count")]) for p in PRESSES}

        wait_until(lambda: counters() == truth, 10, f"the host's counters {counters()} to equal {truth}")
        data = seen(host, "DDATA")
        assert data and all(
            "name" not in m and m["alias"] in aliases.values() for d in data for m in d["metrics"]
        )
        sequence = [m["seq"] for m in seen(host) if m["type"] not in ("NDEATH",)]
        assert all((b - a) % 256 == 1 for a, b in itertools.pairwise(sequence)), sequence

        host.send(f"rebirth {NODE}")
        wait_until(lambda: len(seen(host, "NBIRTH")) == 2 and len(seen(host, "DBIRTH")) == 4, 10, "a rebirth")
        assert metric(seen(host, "NBIRTH")[1], "bdSeq")["value"] == 0  # the same connection's

        host.send(f"write {NODE} pa #{aliases[('pa', 'setpoint')]} UInt16 1234")
        wait_until(
            lambda: last_value(host, "pa", aliases[("pa", "setpoint")]) == 1234, 10, "the setpoint written"
        )
        host.send(f"write {NODE} pa work_order String HACKED")
        wait_until(lambda: "not writable" in edge.output(), 10, "the write to a tag not writable refused")
        assert "HACKED" not in str(last_value(host, "pa", aliases[("pa", "work_order")]))

        sim.post(
            "/faults", {"action": "silence", "protocol": "modbus", "machine": "pb", "duration_s": 4 * ACCEL}
        )
        wait_until(lambda: seen(host, "DDEATH", "pb"), 15, "pb's DDEATH while its PLC is silent")
        assert not seen(host, "DDEATH", "pa")
        wait_until(lambda: len(seen(host, "DBIRTH", "pb")) == 3, 20, "pb's DBIRTH when it answers again")

        hostile = paho.Client(CallbackAPIVersion.VERSION2, client_id="hostile")
        hostile.connect("127.0.0.1", mosquitto.port)
        hostile.loop_start()
        hostile.publish(f"spBv1.0/{GROUP}/NCMD/{NODE}", b"\x0a\xff\xff not protobuf").wait_for_publish(5)
        hostile.loop_stop()
        wait_until(
            lambda: "malformed Sparkplug B protobuf" in edge.output(), 10, "the bad NCMD refused, logged"
        )
        before = len(seen(host, "DDATA"))
        wait_until(lambda: len(seen(host, "DDATA")) > before, 10, "data flowing on after it")

        edge.kill()  # no goodbye: the broker publishes the will
        wait_until(lambda: seen(host, "NDEATH"), 20, "the NDEATH will")
        assert metric(seen(host, "NDEATH")[0], "bdSeq")["value"] == 0
    assert "Traceback" not in edge.output()

"""The OPC UA side through a real asyncua client over TCP: browse, read, subscribe, write, restart,
Basic256Sha256 SignAndEncrypt with a client certificate made here."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.simulators.conftest import ACCEL
from tests.support.simulator import Simulator

NS = "urn:takt:simulator"
TAGS = {
    "good_count",
    "scrap_count",
    "state",
    "running",
    "fault",
    "fault_code",
    "status_bits",
    "ambient",
    "total_cycles",
    "temperature",
    "pressure",
    "power",
    "energy",
    "program",
    "work_order",
    "setpoint",
    "part_count",
    "shot_count",
    "plc_state",
    "plc_mode",
}


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[Client]:
    c = Client(sim.opcua_endpoint, timeout=5)
    async with c:
        yield c


async def node(c: Client, machine: str, tag: str) -> Any:
    idx = await c.get_namespace_index(NS)
    return c.get_node(f"ns={idx};s={machine}.{tag}")


def ms(dv: ua.DataValue) -> int:
    assert dv.SourceTimestamp is not None
    return round(dv.SourceTimestamp.timestamp() * 1000)


async def test_browse_machines_folder_and_types(client: Client) -> None:
    idx = await client.get_namespace_index(NS)
    folder = await client.nodes.objects.get_child(f"{idx}:Machines")
    names = {(await child.read_browse_name()).Name for child in await folder.get_children()}
    assert names == {"ua16", "ua32"}
    ua32 = await folder.get_child(f"{idx}:ua32")
    tags = {(await v.read_browse_name()).Name for v in await ua32.get_children()}
    assert tags == TAGS
    expected = {
        "good_count": ua.VariantType.UInt32,
        "state": ua.VariantType.Int32,
        "running": ua.VariantType.Boolean,
        "temperature": ua.VariantType.Double,
        "program": ua.VariantType.String,
        "total_cycles": ua.VariantType.Int64,
        "ambient": ua.VariantType.Int16,
    }
    for tag, vtype in expected.items():
        dv = await (await node(client, "ua32", tag)).read_data_value()
        assert dv.Value.VariantType == vtype, tag
    dv16 = await (await node(client, "ua16", "good_count")).read_data_value()
    assert dv16.Value.VariantType == ua.VariantType.UInt16
    assert await (await node(client, "ua32", "program")).read_value() == "MOULD-32"


@pytest.mark.parametrize(("machine", "width"), [("ua32", 32), ("ua16", 16)])
async def test_counter_deltas_equal_ground_truth_in_the_window(
    sim: Simulator, client: Client, machine: str, width: int
) -> None:
    if width == 16:  # ~20 parts/s from 65530: the window below crosses the wrap
        sim.post("/faults", {"action": "set_counter", "machine": machine, "counter": "good", "value": 65530})
    counter = await node(client, machine, "good_count")
    first = await counter.read_data_value()
    await asyncio.sleep(1.0)
    second = await counter.read_data_value()
    delta = (second.Value.Value - first.Value.Value) % 2**width
    # SourceTimestamp is the tick that published the value: the window (ts1, ts2] is exact
    since, until = ms(first) + 1, ms(second) + 1
    window = sim.get(f"/ground-truth/parts?machine={machine}&since_ms={since}&until_ms={until}")
    assert delta == window["good"] > 0
    # and the rate: parts (good + scrap) per plant second between two exact tick stamps, within jitter
    plant_s, jitter = (until - since) / 1000 * ACCEL, 0.1 if width == 32 else 0.0
    made = window["good"] + window["scrap"]
    assert plant_s / (1 + jitter) - 1 <= made <= plant_s / (1 - jitter) + 1, (made, plant_s)
    if width == 16:
        assert second.Value.Value < first.Value.Value  # it did wrap


async def test_subscription_sees_the_16bit_counter_wrap(sim: Simulator, client: Client) -> None:
    values: list[int] = []

    class Handler:
        def datachange_notification(self, _node: Any, val: int, _data: Any) -> None:
            values.append(val)

    sub = await client.create_subscription(20, Handler())
    await sub.subscribe_data_change(await node(client, "ua16", "good_count"))
    sim.post("/faults", {"action": "set_counter", "machine": "ua16", "counter": "good", "value": 65520})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (values and max(values) >= 65500 and values[-1] < 100):
        await asyncio.sleep(0.05)
    await sub.delete()
    assert max(values) >= 65500 and values[-1] < 100, values[-5:]


async def test_writes_reach_the_machine(sim: Simulator, client: Client) -> None:
    await (await node(client, "ua16", "work_order")).write_value(ua.Variant("WO-7", ua.VariantType.String))
    await (await node(client, "ua16", "setpoint")).write_value(ua.Variant(55.0, ua.VariantType.Double))
    deadline = time.monotonic() + 5
    tags = sim.get("/machines")["ua16"]
    while time.monotonic() < deadline and (tags["work_order"], tags["setpoint"]) != ("WO-7", 55):
        await asyncio.sleep(0.05)
        tags = sim.get("/machines")["ua16"]
    assert (tags["work_order"], tags["setpoint"]) == ("WO-7", 55)
    writes = sim.ground_truth()["machines"]["ua16"]["writes"]
    assert [(w["tag"], w["value"]) for w in writes] == [("work_order", "WO-7"), ("setpoint", 55.0)]


async def test_forced_state_is_what_the_client_reads(sim: Simulator, client: Client) -> None:
    sim.post("/faults", {"action": "fault", "machine": "ua32", "fault_code": 42, "duration_s": 2.0 * ACCEL})
    assert await (await node(client, "ua32", "state")).read_value() == 3
    assert await (await node(client, "ua32", "fault_code")).read_value() == 42
    assert await (await node(client, "ua32", "fault")).read_value() is True
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and await (await node(client, "ua32", "state")).read_value() != 2:
        await asyncio.sleep(0.05)
    assert await (await node(client, "ua32", "running")).read_value() is True
    states = sim.ground_truth()["machines"]["ua32"]["states"]
    assert [s["state"] for s in states[-2:]] == ["fault", "running"] and states[-2]["fault_code"] == 42


async def test_restart_keeps_node_ids(sim: Simulator) -> None:
    async with Client(sim.opcua_endpoint, timeout=5) as c:
        before = await (await node(c, "ua32", "total_cycles")).read_value()
    starts = sim.get("/healthz")["opcua_starts"]
    sim.post("/faults", {"action": "restart", "protocol": "opcua"})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sim.get("/healthz")["opcua_starts"] != starts + 1:
        await asyncio.sleep(0.1)
    async with Client(sim.opcua_endpoint, timeout=5) as c:  # a new server, the same node ids
        after = await (await node(c, "ua32", "total_cycles")).read_value()
    assert after >= before > 0


async def test_drop_connections_cuts_the_session(sim: Simulator) -> None:
    c = Client(sim.opcua_endpoint, timeout=1)
    async with c:
        await (await node(c, "ua32", "state")).read_value()
        answer = sim.post("/faults", {"action": "drop_connections", "protocol": "opcua"})
        assert answer["applied"]["dropped"] >= 1
        with pytest.raises((ConnectionError, TimeoutError, ua.UaError)):
            await (await node(c, "ua32", "state")).read_value()


@pytest.mark.parametrize(
    "mode",
    [ua.MessageSecurityMode.SignAndEncrypt, ua.MessageSecurityMode.Sign],
    ids=["SignAndEncrypt", "Sign"],
)
async def test_basic256sha256_with_a_client_certificate(
    sim: Simulator, tmp_path: Path, mode: ua.MessageSecurityMode
) -> None:
    cert, key = tmp_path / "client-cert.der", tmp_path / "client-key.pem"
    uri = "urn:takt:test:client"
    await setup_self_signed_certificate(key, cert, uri, "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH],
                                        {"commonName": "takt test client"})  # fmt: skip
    c = Client(sim.opcua_endpoint, timeout=5)
    c.application_uri = uri
    await c.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key), mode=mode)
    async with c:
        assert c.security_policy.Mode == mode
        assert await (await node(c, "ua32", "program")).read_value() == "MOULD-32"

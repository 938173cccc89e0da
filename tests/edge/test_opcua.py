"""The OPC UA source and `takt edge browse` against the real simulator."""

import asyncio
import itertools
import logging
from pathlib import Path
from typing import Any

import msgspec
import pytest
from asyncua import ua
from cryptography.hazmat.primitives import hashes

from edge import config
from edge.browse import browse
from edge.cli import main
from edge.config import Device
from edge.errors import CommandError
from edge.sources.base import Health, SampleRow, TagPoint
from edge.sources.opcua import OpcUaSource
from tests.support.simulator import Simulator

NS = "nsu=urn:takt:simulator;s=mold."


def source(sim: Simulator, **extra: Any) -> tuple[OpcUaSource, list[SampleRow]]:
    tags = [
        {"name": "good_count", "address": NS + "good_count", "role": "counter", "width": 32},
        {"name": "state", "address": NS + "state", "role": "state"},
        {"name": "running", "address": "Objects/2:Machines/2:mold/2:running", "role": "run"},  # a browse path
        {"name": "program", "address": NS + "program"},
        {"name": "setpoint", "address": NS + "setpoint", "writable": True},
        {"name": "work_order", "address": NS + "work_order", "writable": True},
        {"name": "temperature", "address": NS + "temperature", "deadband": 0.5},
        {"name": "missing", "address": NS + "no_such_tag"},
    ]
    raw = {"name": "mold", "protocol": "opcua", "machine": "mold", "endpoint": sim.opcua_endpoint,
           "sampling_ms": 50, "publishing_ms": 50, "watchdog_s": 0.5, "backoff_max_s": 0.5, "poll_ms": 100,
           "tags": tags, **extra}  # fmt: skip
    device = msgspec.convert(raw, Device)
    rows: list[SampleRow] = []
    return OpcUaSource(device, [TagPoint(device, t, rows.append) for t in device.tags], Health("mold")), rows


def values(rows: list[SampleRow], tag: str, quality: str = "good") -> list[Any]:
    return [r[3] for r in rows if r[1] == tag and r[4] == quality]


async def wait(condition: Any, limit_s: float = 15) -> None:
    async with asyncio.timeout(limit_s):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("mode", ["subscribe", "poll"])
async def test_values_quality_and_timestamps(sim: Simulator, mode: str) -> None:
    src, rows = source(sim, mode=mode)
    task = asyncio.create_task(src.run())
    try:
        await wait(lambda: len(values(rows, "good_count")) >= 3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    counts = values(rows, "good_count")
    assert all(b >= a or a > 2**32 - 200 for a, b in itertools.pairwise(counts)), counts
    assert values(rows, "program") == ["MOULD-X"]
    assert values(rows, "state")[0] == 2 and values(rows, "running")[0] is True
    assert [r[4] for r in rows if r[1] == "missing"] == ["bad"]
    stamps = [r[2] for r in rows if r[1] == "good_count"]
    assert stamps == sorted(stamps) and stamps[0] > 1_700_000_000_000


@pytest.mark.faults
async def test_server_restart_goes_stale_and_resubscribes(sim: Simulator) -> None:
    src, rows = source(sim)
    task = asyncio.create_task(src.run())
    try:
        await wait(lambda: len(values(rows, "good_count")) >= 2)
        sim.post("/faults", {"action": "restart", "protocol": "opcua", "down_s": 15})
        await wait(lambda: values(rows, "good_count", "stale"))
        stale_at = len(rows)
        await wait(lambda: len(values(rows[stale_at:], "good_count")) >= 2, limit_s=20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    stale = values(rows, "good_count", "stale")
    assert stale[0] is not None and stale[0] > 0, "the last value is kept"
    assert src.health.connected


async def test_write_and_refusals(sim: Simulator) -> None:
    src, _ = source(sim)
    points = {p.name: p for p in src.points}
    task = asyncio.create_task(src.run())
    try:
        await wait(lambda: src.health.connected)
        await src.write(points["setpoint"], 77)
        await src.write(points["work_order"], "WO-1")
        with pytest.raises(CommandError):
            await src.write(points["setpoint"], "not a number")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    with pytest.raises(CommandError, match="not connected"):
        await src.write(points["setpoint"], 1)
    read = await source(sim)[0].read_once()
    assert read["mold/setpoint"][0] == 77.0 and read["mold/work_order"][0] == "WO-1"
    assert read["mold/missing"][1:] == ("bad", "status BadNodeIdUnknown")


async def test_browse_prints_a_config_that_loads_and_reads(sim: Simulator) -> None:
    text = await browse(sim.opcua_endpoint, depth=4, machine=None)
    cfg = config.parse(f"site: s\nedge_id: e\n{text}", "browse.yaml")
    tags = {(t.machine, t.name): t for t in cfg.devices[0].tags}
    assert tags[("mold", "good_count")].role == "counter" and tags[("mold", "good_count")].width == 32
    assert tags[("mold", "setpoint")].writable and not tags[("mold", "program")].writable
    assert tags[("mold", "state")].role == "state"
    device = cfg.devices[0]
    src = OpcUaSource(device, [TagPoint(device, t, lambda _r: None) for t in device.tags], Health("b"))
    read = await src.read_once()
    assert read["mold/program"][:2] == ("MOULD-X", "good")
    assert all(q == "good" for _, q, _ in read.values())


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_basic256sha256_with_a_certificate_from_takt_edge_cert(
    sim: Simulator, mode: str, tmp_path: Path
) -> None:
    assert await asyncio.to_thread(main, ["cert", "--out", str(tmp_path)]) == 0  # it runs its own loop
    src, _ = source(
        sim,
        security_policy="Basic256Sha256",
        security_mode=mode,
        certificate=str(tmp_path / "edge-cert.der"),
        private_key=str(tmp_path / "edge-key.pem"),
        server_certificate=str(sim.workdir / "state" / "opcua-server-cert.der"),
    )
    read = await src.read_once()
    assert read["mold/program"][:2] == ("MOULD-X", "good")


async def test_counter_changes_faster_than_publishing_all_arrive(tmp_path: Path) -> None:
    """A tiny asyncua server of our own bumps a counter every 10 ms; we publish every 300 ms."""
    from asyncua import Server

    from tests.support.ports import free_port

    server = Server()
    await server.init()
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
    server.set_endpoint(endpoint)
    idx = await server.register_namespace("urn:test")
    counter = await server.nodes.objects.add_variable(
        ua.NodeId("count", idx), "count", ua.Variant(0, ua.VariantType.UInt32)
    )
    raw = {"name": "fast", "protocol": "opcua", "machine": "fast", "endpoint": endpoint, "sampling_ms": 0,
           "publishing_ms": 300, "tags": [{"name": "good_count", "address": "nsu=urn:test;s=count",
                                           "role": "counter", "width": 32}]}  # fmt: skip
    device = msgspec.convert(raw, Device)
    rows: list[SampleRow] = []
    src = OpcUaSource(device, [TagPoint(device, t, rows.append) for t in device.tags], Health("fast"))
    async with server:
        task = asyncio.create_task(src.run())
        try:
            await wait(lambda: src.health.connected and rows)
            for value in range(1, 101):
                await server.write_attribute_value(
                    counter.nodeid, ua.DataValue(ua.Variant(value, ua.VariantType.UInt32))
                )
                await asyncio.sleep(0.01)
            await wait(lambda: rows[-1][3] == 100)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    values = [r[3] for r in rows]
    assert values == list(range(values[0], 101)), "every value, in order, none lost between publishes"


def test_status_codes_become_quality() -> None:
    from edge.sources.opcua import quality_of

    assert quality_of(ua.StatusCode(ua.StatusCodes.Good)) == "good"
    assert quality_of(ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue)) == "uncertain"
    assert quality_of(ua.StatusCode(ua.StatusCodes.BadCommunicationError)) == "bad"
    assert quality_of(None) == "good"


async def test_browse_is_batched_per_level(sim: Simulator) -> None:
    from asyncua.client.client import Client

    from edge.browse import walk

    client = Client(sim.opcua_endpoint)
    await client.connect()
    calls: list[int] = []
    original = client.uaclient.browse

    async def counting(params: ua.BrowseParameters) -> list[ua.BrowseResult]:
        calls.append(len(params.NodesToBrowse))
        return await original(params)

    client.uaclient.browse = counting  # type: ignore[method-assign]
    try:
        found = await walk(client, ua.NodeId.from_string("i=85"), depth=5)
    finally:
        await client.disconnect()
    assert len(found) >= 15, "every variable of the mold"
    assert len(calls) <= 4, f"one Browse request per level, not per node: {calls}"


async def test_a_server_without_subscriptions_to_give_is_polled(caplog: pytest.LogCaptureFixture) -> None:
    """A small PLC that refuses CreateSubscription (BadTooManySubscriptions): the source polls it instead."""
    from asyncua import Server

    from tests.support.ports import free_port

    server = Server()
    await server.init()
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
    server.set_endpoint(endpoint)

    async def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManySubscriptions)

    server.iserver.subscription_service.create_subscription = refuse  # this server's limit: none to give
    idx = await server.register_namespace("urn:test")
    counter = await server.nodes.objects.add_variable(
        ua.NodeId("count", idx), "count", ua.Variant(0, ua.VariantType.UInt32)
    )
    raw = {"name": "small", "protocol": "opcua", "machine": "small", "endpoint": endpoint, "poll_ms": 50,
           "tags": [{"name": "good_count", "address": "nsu=urn:test;s=count", "role": "counter",
                     "width": 32}]}  # fmt: skip
    device = msgspec.convert(raw, Device)
    assert device.mode == "subscribe"
    rows: list[SampleRow] = []
    src = OpcUaSource(device, [TagPoint(device, t, rows.append) for t in device.tags], Health("small"))
    async with server:
        task = asyncio.create_task(src.run())
        try:
            await wait(lambda: rows)
            for value in (5, 9):
                await server.write_attribute_value(
                    counter.nodeid, ua.DataValue(ua.Variant(value, ua.VariantType.UInt32))
                )
                await wait(lambda: rows[-1][3] == value)  # noqa: B023
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert [v for v in dict.fromkeys(r[3] for r in rows)] == [0, 5, 9] and src.health.connected
    assert "(BadTooManySubscriptions)): polling every 50 ms" in caplog.text, "it fell back to polling"


async def test_a_wrong_pinned_certificate_is_refused_naming_both_thumbprints(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from cryptography import x509

    assert await asyncio.to_thread(main, ["cert", "--out", str(tmp_path)]) == 0
    key, cert = tmp_path / "edge-key.pem", tmp_path / "edge-cert.der"
    assert key.stat().st_mode & 0o777 == 0o600  # the private key is the edge's alone
    server_cert = sim.workdir / "state" / "opcua-server-cert.der"
    wrong = cert  # any other certificate: here the edge's own
    src, _ = source(sim, security_policy="Basic256Sha256", security_mode="SignAndEncrypt",
                    certificate=str(cert), private_key=str(key), server_certificate=str(wrong))  # fmt: skip
    read = await src.read_once()
    value, quality, error = read["mold/program"]
    assert (value, quality) == (None, "bad")

    def thumb(path: Path) -> str:
        return x509.load_der_x509_certificate(path.read_bytes()).fingerprint(hashes.SHA1()).hex().upper()

    assert error is not None and "server certificate mismatch" in error
    assert f"presents thumbprint {thumb(server_cert)}" in error and f"pins thumbprint {thumb(wrong)}" in error
    assert f"put the new one in {wrong}" in error
    assert "BadTcpInternalError" not in error
    assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]


async def test_an_unknown_namespace_uri_or_a_malformed_id_makes_only_that_tag_bad(sim: Simulator) -> None:
    tags = [
        {"name": "program", "address": NS + "program"},
        {"name": "elsewhere", "address": "nsu=urn:no:such:namespace;s=mold.program"},
        {"name": "malformed", "address": "ns=2;q=1"},
        {"name": "quoted", "address": 'nsu=urn:takt:simulator;s="mold"."program"'},  # no such node here
    ]
    raw = {
        "name": "mold",
        "protocol": "opcua",
        "machine": "mold",
        "endpoint": sim.opcua_endpoint,
        "tags": tags,
    }
    device = msgspec.convert(raw, Device)
    src = OpcUaSource(device, [TagPoint(device, t, lambda _row: None) for t in device.tags], Health("mold"))
    read = await src.read_once()
    assert read["mold/program"][:2] == ("MOULD-X", "good")
    assert read["mold/elsewhere"][1] == "bad" and "urn:no:such:namespace is not on the server" in str(
        read["mold/elsewhere"][2]
    )
    assert "urn:takt:simulator" in str(read["mold/elsewhere"][2])  # it names the ones the server has
    assert read["mold/malformed"][1] == "bad"
    assert read["mold/quoted"][1] == "bad"


async def test_a_namespace_renumbered_by_a_server_restart_is_resolved_again(
    start_simulator: Any, tmp_path: Path
) -> None:
    """Tags named by namespace URI keep flowing when a restart moves the namespace's index."""
    from asyncua import Client

    plant = Path(__file__).parent / "plants" / "orders.yaml"
    sim = await asyncio.to_thread(start_simulator, config=plant, accel=10.0, extra=["--scenario", "none"])
    src, rows = source(sim)
    task = asyncio.create_task(src.run())

    async def index() -> int:
        async with Client(sim.opcua_endpoint, timeout=5) as client:
            return int(await client.get_namespace_index("urn:takt:simulator"))

    async def good_counts_after(mark: int) -> bool:
        for _ in range(300):
            if any(r[1] == "good_count" and r[4] == "good" for r in rows[mark:]):
                return True
            await asyncio.sleep(0.05)
        return False

    try:
        assert await good_counts_after(0)
        before = await index()
        await asyncio.to_thread(
            sim.post, "/faults", {"action": "restart", "protocol": "opcua", "renumber": True}
        )
        for _ in range(200):  # the session drops: every tag goes stale, then the source reconnects
            if any(r[4] == "stale" for r in rows):
                break
            await asyncio.sleep(0.05)
        mark = len(rows)
        assert await good_counts_after(mark), "values flow again after the renumbering restart"
        assert await index() == before + 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

"""The Modbus source against the real simulator (tests/edge/plants/orders.yaml) over TCP."""

import asyncio
from typing import Any

import msgspec
import pytest
from pymodbus.client import AsyncModbusTcpClient

from edge.config import Device
from edge.errors import CommandError
from edge.sources.modbus import Line, ModbusSource, make_line
from simulators import registers
from tests.edge.support import all_tags, modbus_device, source
from tests.support.simulator import Simulator

ORDERS = {"m-bb": (1, "big", "big"), "m-lb": (2, "little", "big"), "m-bl": (3, "big", "little"),
          "m-ll": (4, "little", "little")}  # fmt: skip


async def raw_registers(port: int, unit: int, table: str, address: int, count: int) -> list[int]:
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    try:
        read = client.read_holding_registers if table == "holding" else client.read_input_registers
        return list((await read(address, count=count, device_id=unit)).registers)
    finally:
        client.close()


@pytest.mark.parametrize("machine", list(ORDERS))
async def test_every_type_and_order_decodes(sim: Simulator, machine: str) -> None:
    unit, word, byte = ORDERS[machine]
    sim.post("/faults", {"action": "freeze", "machine": machine})
    try:
        src, _ = source(sim, machine, unit, all_tags(byte), word_order=word, byte_order=byte, max_gap=124)
        values = {name.split("/")[1]: v for name, (v, quality, error) in (await src.read_once()).items()
                  if quality == "good" and error is None}  # fmt: skip
        assert len(values) == 18, values
        index = list(ORDERS).index(machine)
        assert values["good_count"] == 70000 + index
        assert values["total_cycles"] == 5_000_000_000 + index
        assert values["program"] == f"ALPHA-{machine[2:].upper()}"
        assert values["work_order"] == ""
        assert values["state"] == 2 and values["running"] is True and values["running_di"] is True
        assert values["running_bit"] is True and values["fault"] is False and values["status_bits"] == 1
        assert -5.5 < values["ambient"] < -3.5  # type: ignore[operator]
        assert 0 < values["temperature"] < 300 and 0 <= values["energy"] < 1000  # type: ignore[operator]
        holding = await raw_registers(sim.modbus_port, unit, "holding", 0, 12)
        inputs = await raw_registers(sim.modbus_port, unit, "input", 0, 10)
        kinds = {"good_count": ("uint", holding[0:2]), "scrap_count": ("uint", holding[2:4]),
                 "total_cycles": ("int", holding[8:12]), "temperature": ("float", inputs[0:2]),
                 "pressure": ("float", inputs[2:4]), "power": ("float", inputs[4:6]),
                 "energy": ("float", inputs[6:10])}  # fmt: skip
        for tag, (kind, words) in kinds.items():
            assert values[tag] == pytest.approx(registers.decode(kind, words, word, byte), rel=1e-7), tag  # type: ignore[arg-type]
        ambient = registers.decode("int", holding[7:8], word, byte)  # type: ignore[arg-type]
        assert values["ambient"] == pytest.approx(ambient / 10)
    finally:
        sim.post("/faults", {"action": "clear"})


async def run_for(src: ModbusSource, condition: Any, limit_s: float = 10.0) -> None:
    task = asyncio.create_task(src.run())
    try:
        async with asyncio.timeout(limit_s):
            while not condition():
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        src.line.client.close()


@pytest.mark.faults
async def test_bad_address_is_isolated_and_others_flow(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    tags = [*all_tags("big")[:3], {"name": "nothing", "table": "holding", "address": 15, "type": "uint16"}]
    src, rows = source(sim, "fast16", 5, tags, max_gap=20, bad_recheck_s=600)
    counts = lambda: [r[3] for r in rows if r[1] == "good_count"]  # noqa: E731
    await run_for(src, lambda: len(counts()) >= 4)
    bad = [r for r in rows if r[1] == "nothing"]
    assert [(r[3], r[4]) for r in bad] == [(None, "bad")], "reported bad once"
    assert sum("holding 15 refused: Modbus exception 02" in m for m in caplog.messages) == 1
    assert src.health.connected and src.bad
    assert all(q == "good" for _, t, _, _, q in rows if t != "nothing")


@pytest.mark.faults
async def test_busy_exception_goes_stale_keeps_value_and_recovers(sim: Simulator) -> None:
    src, rows = source(sim, "fast16", 5, all_tags("big")[:3])
    good = lambda: [r for r in rows if r[1] == "good_count" and r[4] == "good"]  # noqa: E731
    task = asyncio.create_task(src.run())
    try:
        async with asyncio.timeout(15):
            while not good():
                await asyncio.sleep(0.02)
            sim.post(
                "/faults", {"action": "modbus_exception", "machine": "fast16", "code": 6, "duration_s": 15}
            )
            while not [r for r in rows if r[4] == "stale"]:
                await asyncio.sleep(0.02)
            stale = [r for r in rows if r[4] == "stale"]
            before = len(good())
            while len(good()) <= before:
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        src.line.client.close()
        sim.post("/faults", {"action": "clear"})
    stale_count = next(r for r in stale if r[1] == "good_count")
    assert stale_count[3] is not None and stale_count[3] > 0, "last value kept, never zero"
    assert {r[1] for r in stale} == {"good_count", "scrap_count", "state"}
    assert not src.health.error or src.health.connected


@pytest.mark.faults
async def test_dead_unit_on_a_shared_line_does_not_starve_the_live_one(sim: Simulator) -> None:
    device = msgspec.convert(modbus_device("shared", sim.modbus_port, 5, []), Device)
    line: Line = make_line(device)
    dead, dead_rows = source(sim, "dead", 9, all_tags("big")[:1], line=line)
    live, live_rows = source(sim, "fast16", 5, all_tags("big")[:1], line=line)
    dead.line = live.line = line
    tasks = [asyncio.create_task(s.run()) for s in (dead, live)]
    try:
        async with asyncio.timeout(15):
            while len({r[3] for r in live_rows}) < 5 or dead.health.error is None:
                await asyncio.sleep(0.02)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        line.client.close()
    assert dead_rows == [] and not dead.health.connected
    assert "no answer from unit 9" in (dead.health.error or "")
    assert live.health.connected
    values = [r[3] for r in live_rows]
    assert values == sorted(values, key=lambda v: (v < 60000, v)), "counter in order (with the 16-bit wrap)"


async def test_unreachable_device_at_start(sim: Simulator) -> None:
    from tests.support.ports import free_port

    dead, _ = source(sim, "gone", 1, all_tags("big")[:1])
    dead.device = msgspec.structs.replace(dead.device, port=free_port())
    dead.line = make_line(dead.device)
    live, live_rows = source(sim, "fast16", 5, all_tags("big")[:1])
    tasks = [asyncio.create_task(s.run()) for s in (dead, live)]
    try:
        async with asyncio.timeout(10):
            while len(live_rows) < 3 or dead.health.error is None:
                await asyncio.sleep(0.02)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        live.line.client.close()
    assert "cannot connect" in (dead.health.error or "")


async def test_write_string_and_number(sim: Simulator) -> None:
    src, _ = source(sim, "m-bl", 3, all_tags("little"), byte_order="little")
    points = {p.name: p for p in src.points}
    await src.line.ensure_connected("sim")
    await src.write(points["work_order"], "WO-2311-042")
    await src.write(points["setpoint"], 321)
    with pytest.raises(CommandError, match="out of range"):
        await src.write(points["setpoint"], 70000)
    with pytest.raises(CommandError, match="exception 02"):
        await src.write(points["program"], "NOPE")  # holding 20 is read-only in the simulator
    values = await src.read_once()
    assert values["m-bl/work_order"][0] == "WO-2311-042"
    assert values["m-bl/setpoint"][0] == 321
    writes = sim.ground_truth()["machines"]["m-bl"]["writes"]
    assert any(w.get("value") == "WO-2311-042" for w in writes), writes


@pytest.mark.parametrize("fault", [{"action": "restart", "protocol": "modbus", "down_s": 10},
                                   {"action": "drop_connections", "protocol": "modbus"}])  # fmt: skip
@pytest.mark.faults
async def test_reconnects_after_server_restart_or_dropped_connection(
    sim: Simulator, fault: dict[str, Any]
) -> None:
    src, rows = source(sim, "fast16", 5, all_tags("big")[:1])
    good = lambda: [r for r in rows if r[4] == "good"]  # noqa: E731
    task = asyncio.create_task(src.run())
    try:
        async with asyncio.timeout(20):
            while len(good()) < 2:
                await asyncio.sleep(0.02)
            sim.post("/faults", fault)
            if fault["action"] == "restart":
                while not [r for r in rows if r[4] == "stale"]:
                    await asyncio.sleep(0.02)
            before = len(good())
            while len(good()) < before + 3:
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        src.line.client.close()
    values = [r[3] for r in good()]
    assert values == sorted(values, key=lambda v: (v < 60000, v))
    assert src.health.connected


async def test_several_poll_rates_get_their_own_plans(sim: Simulator) -> None:
    tags = [{**tag, "poll_ms": 100 if tag["table"] == "holding" else 2000} for tag in all_tags("big")]
    src, _ = source(sim, "m-bb", 1, tags, max_gap=2)
    by_rate = {group.interval_s: group for group in src.groups}
    assert set(by_rate) == {0.1, 2.0}
    fast, slow = by_rate[0.1], by_rate[2.0]
    assert set(fast.keys) == {"holding"} and set(slow.keys) == {"coil", "discrete", "input"}
    assert [(b.start, b.count) for b in fast.blocks["holding"]] == [(0, 12), (20, 16), (40, 11)]
    assert [(b.start, b.count) for b in slow.blocks["input"]] == [(0, 10)]

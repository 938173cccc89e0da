"""The Modbus TCP side through a real pymodbus client (and Debian's mbpoll) over TCP."""

import asyncio
import struct
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from tests.simulators.conftest import ACCEL
from tests.support.simulator import Simulator

UNITS = {"w16": 1, "abcd": 2, "cdab": 3, "badc": 4, "dcba": 5, "fast": 6}
ORDERS = {"abcd": ("big", "big"), "cdab": ("little", "big"), "badc": ("big", "little"),
          "dcba": ("little", "little")}  # fmt: skip


def unpack(fmt: str, words: list[int], word_order: str, byte_order: str) -> Any:
    """An independent decoder (not simulators.registers): reorder words, then bytes, then struct."""
    ordered = list(reversed(words)) if word_order == "little" else words
    raw = b"".join(w.to_bytes(2, "little" if byte_order == "little" else "big") for w in ordered)
    return struct.unpack(fmt, raw)[0]


def text(words: list[int], byte_order: str) -> str:
    raw = b"".join(w.to_bytes(2, "little" if byte_order == "little" else "big") for w in words)
    return raw.rstrip(b"\0").decode()


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[AsyncModbusTcpClient]:
    c = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=1, retries=0)
    assert await c.connect()
    yield c
    c.close()


async def holding(c: AsyncModbusTcpClient, unit: int, address: int, count: int) -> list[int]:
    rr = await c.read_holding_registers(address, count=count, device_id=unit)
    assert not rr.isError(), rr
    return list(rr.registers)


async def counters(c: AsyncModbusTcpClient, machine: str) -> tuple[int, int]:
    regs = await holding(c, UNITS[machine], 0, 4)
    if machine == "w16":
        return regs[0], regs[2]
    return unpack(">I", regs[0:2], "big", "big"), unpack(">I", regs[2:4], "big", "big")


@pytest.mark.parametrize("machine", list(ORDERS))
async def test_every_type_and_order_decodes(
    sim: Simulator, client: AsyncModbusTcpClient, machine: str
) -> None:
    wo, bo = ORDERS[machine]
    sim.post("/faults", {"action": "freeze", "machine": machine})  # analogs stop moving on the wire
    try:
        expected = sim.get("/machines")[machine]
        unit = UNITS[machine]
        h = await holding(client, unit, 0, 12)
        assert unpack(">I", h[0:2], wo, bo) == 0x12345678
        assert unpack(">I", h[2:4], wo, bo) == 0
        assert h[4:7] == [2, 0, 1]  # running, no fault code, status bit0
        assert unpack(">h", h[7:8], wo, bo) == expected["ambient"]
        assert unpack(">q", h[8:12], wo, bo) == 0x0102030405060708
        assert (
            text(await holding(client, unit, 20, 16), bo) == f"{machine.upper()}-PROG-0{UNITS[machine] - 1}"
        )
        ir = (await client.read_input_registers(0, count=10, device_id=unit)).registers
        for i, tag in enumerate(("temperature", "pressure", "power")):
            assert (
                unpack(">f", ir[2 * i : 2 * i + 2], wo, bo)
                == struct.unpack(">f", struct.pack(">f", expected[tag]))[0]
            )
        assert unpack(">d", ir[6:10], wo, bo) == expected["energy"]
        assert (await client.read_coils(0, count=2, device_id=unit)).bits[:2] == [True, False]
        assert (await client.read_discrete_inputs(0, count=2, device_id=unit)).bits[:2] == [True, False]
    finally:
        sim.post("/faults", {"action": "unfreeze", "machine": machine})


async def test_negative_int16_ambient(client: AsyncModbusTcpClient) -> None:
    (raw,) = await holding(client, UNITS["w16"], 7, 1)
    assert -130 <= unpack(">h", [raw], "big", "big") <= -116  # -12.3 °C x 10, with a little noise


async def test_16bit_counter_wraps_and_matches_ground_truth(
    sim: Simulator, client: AsyncModbusTcpClient
) -> None:
    seen: list[int] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (seen and seen[-1] < 1000 and max(seen) >= 65500):
        seen.append((await holding(client, UNITS["w16"], 0, 2))[0])
        await asyncio.sleep(0.05)
    assert max(seen) >= 65500 and seen[-1] < 1000, seen[-5:]
    assert (await holding(client, UNITS["w16"], 0, 2))[1] == 0  # register 1 reads 0 at width 16
    sim.post("/faults", {"action": "set_state", "machine": "w16", "state": "idle"})
    try:
        good, scrap = await counters(client, "w16")
        truth = sim.ground_truth()["machines"]["w16"]
        assert good == (65500 + truth["good"]) % 65536 and truth["good"] > 36
        assert scrap == truth["scrap"] == 0
    finally:
        sim.post("/faults", {"action": "set_state", "machine": "w16", "state": "running"})


async def test_counts_follow_the_cycle_rate_within_jitter(
    sim: Simulator, client: AsyncModbusTcpClient
) -> None:
    """The machine runs between two idle stops: the counters read while it stands still differ by the parts
    it made, and those follow its cycle rate over the running interval the simulator stamped (no wall-clock
    reads in the bound: a late tick on a busy box shifts both ends of the interval alike)."""
    idle = {"action": "set_state", "machine": "fast", "state": "idle"}
    sim.post("/faults", idle)
    try:
        g1, s1 = await counters(client, "fast")
        sim.post("/faults", {"action": "set_state", "machine": "fast", "state": "running"})
        await asyncio.sleep(2.0)
        sim.post("/faults", idle)
        g2, s2 = await counters(client, "fast")
        running = sim.ground_truth()["machines"]["fast"]["states"][-2]
    finally:
        sim.post("/faults", {"action": "set_state", "machine": "fast", "state": "running"})
    assert running["state"] == "running" and running["end_ms"] is not None, running
    made = (g2 - g1) + (s2 - s1)
    plant_s = (running["end_ms"] - running["start_ms"]) / 1000 * ACCEL  # one cycle per plant second
    assert plant_s / 1.1 - 1 <= made <= plant_s / 0.9 + 1, (made, plant_s)


async def test_ground_truth_matches_counter_deltas_across_an_operator_reset(
    sim: Simulator, client: AsyncModbusTcpClient
) -> None:
    idle = {"action": "set_state", "machine": "fast", "state": "idle"}
    sim.post("/faults", idle)
    c0, _ = await counters(client, "fast")
    since = sim.ground_truth()["now_ms"] + 1  # c0 already holds the parts of the tick stamped now_ms
    sim.post("/faults", {"action": "set_state", "machine": "fast", "state": "running"})
    await asyncio.sleep(0.7)
    sim.post("/faults", {"action": "reset_counter", "machine": "fast", "counter": "good"})
    await asyncio.sleep(0.7)
    sim.post("/faults", idle)
    try:
        c1, _ = await counters(client, "fast")
        reset = sim.ground_truth()["machines"]["fast"]["counter_resets"][-1]
        before = sim.get(f"/ground-truth/parts?machine=fast&since_ms={since}&until_ms={reset['ts_ms'] + 1}")
        after = sim.get(f"/ground-truth/parts?machine=fast&since_ms={reset['ts_ms'] + 1}")
    finally:
        sim.post("/faults", {"action": "set_state", "machine": "fast", "state": "running"})
    assert reset["from"] - c0 == before["good"] > 0
    assert c1 == after["good"] > 0


async def test_unmapped_addresses_answer_exception_02(client: AsyncModbusTcpClient) -> None:
    unit = UNITS["abcd"]
    for rr in (
        await client.read_holding_registers(12, count=1, device_id=unit),
        await client.read_holding_registers(0, count=13, device_id=unit),  # spans the gap at 12
        await client.read_holding_registers(51, count=1, device_id=unit),
        await client.read_input_registers(10, count=1, device_id=unit),
        await client.read_coils(2, count=1, device_id=unit),
        await client.write_register(4, 1, device_id=unit),  # state is not writable
    ):
        assert rr.isError() and rr.exception_code == 2, rr


async def test_forced_exception_codes_arrive_then_clear(sim: Simulator, client: AsyncModbusTcpClient) -> None:
    for code in (1, 2, 4, 6, 11):
        sim.post("/faults", {"action": "modbus_exception", "machine": "badc", "code": code})
        rr = await client.read_holding_registers(0, count=2, device_id=UNITS["badc"])
        assert rr.isError() and rr.exception_code == code
        assert not (await client.read_holding_registers(0, count=2, device_id=UNITS["abcd"])).isError()
    sim.post("/faults", {"action": "modbus_exception", "unit_id": UNITS["badc"], "code": 0})
    assert not (await client.read_holding_registers(0, count=2, device_id=UNITS["badc"])).isError()
    sim.post("/faults", {"action": "modbus_exception", "machine": "badc", "code": 6})
    sim.post("/faults", {"action": "clear"})
    assert not (await client.read_holding_registers(0, count=2, device_id=UNITS["badc"])).isError()


async def test_freeze_holds_a_value_until_it_expires(sim: Simulator, client: AsyncModbusTcpClient) -> None:
    sim.post(
        "/faults", {"action": "freeze", "machine": "fast", "tag": "good_count", "duration_s": 1.0 * ACCEL}
    )
    frozen = (await counters(client, "fast"))[0]
    truth_before = sim.ground_truth()["machines"]["fast"]["good"]
    await asyncio.sleep(0.4)
    assert (await counters(client, "fast"))[0] == frozen  # stuck on the wire ...
    assert sim.ground_truth()["machines"]["fast"]["good"] > truth_before  # ... while production goes on
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (await counters(client, "fast"))[0] == frozen:
        await asyncio.sleep(0.05)
    assert (await counters(client, "fast"))[0] != frozen


async def test_unknown_unit_gets_no_answer(sim: Simulator) -> None:
    c = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=0.5, retries=0)
    assert await c.connect()
    with pytest.raises(ModbusException):
        await c.read_holding_registers(0, count=1, device_id=99)
    c.close()


async def test_silence_then_answers_again(sim: Simulator) -> None:
    sim.post("/faults", {"action": "silence", "protocol": "modbus", "duration_s": 2.0 * ACCEL})  # 2 s wall
    c = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=0.3, retries=0)
    assert await c.connect()
    with pytest.raises(ModbusException):
        await c.read_holding_registers(0, count=1, device_id=UNITS["abcd"])
    c.close()
    deadline, answered = time.monotonic() + 10, False
    while not answered and time.monotonic() < deadline:
        c = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=0.3, retries=0)
        try:
            await c.connect()
            answered = not (await c.read_holding_registers(0, count=1, device_id=UNITS["abcd"])).isError()
        except ModbusException:
            await asyncio.sleep(0.1)
        finally:
            c.close()
    assert answered


async def test_restart_keeps_the_port_and_the_map(sim: Simulator) -> None:
    starts = sim.get("/healthz")["modbus_starts"]
    sim.post("/faults", {"action": "restart", "protocol": "modbus", "down_s": 1.0 * ACCEL})  # 1 s down
    deadline, seen_down = time.monotonic() + 10, False
    while time.monotonic() < deadline and (health := sim.get("/healthz"))["modbus_starts"] == starts:
        seen_down = seen_down or not health["ready"]
        await asyncio.sleep(0.05)
    assert seen_down and sim.get("/healthz")["modbus_starts"] == starts + 1
    c = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=1, retries=0)
    assert await c.connect()
    assert unpack(">I", await holding(c, UNITS["abcd"], 0, 2), "big", "big") == 0x12345678
    c.close()


async def test_drop_connections_closes_clients(sim: Simulator) -> None:
    c = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=1, retries=0, reconnect_delay=0)
    assert await c.connect()
    await holding(c, UNITS["abcd"], 0, 1)
    answer = sim.post("/faults", {"action": "drop_connections", "protocol": "modbus"})
    assert answer["applied"]["dropped"] >= 1
    deadline = time.monotonic() + 5
    while c.connected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not c.connected
    c.close()


async def test_writes_reach_the_machine_and_ground_truth(
    sim: Simulator, client: AsyncModbusTcpClient
) -> None:
    words = [int.from_bytes(pair, "little") for pair in (b"WO", b"-4", b"2\0", b"\0\0", b"\0\0")]  # BADC
    assert not (await client.write_registers(40, words, device_id=UNITS["badc"])).isError()
    assert not (await client.write_register(50, 1234, device_id=UNITS["badc"])).isError()
    tags = sim.get("/machines")["badc"]
    assert (tags["work_order"], tags["setpoint"]) == ("WO-42", 1234)
    writes = sim.ground_truth()["machines"]["badc"]["writes"]
    assert {(w["tag"], w["value"]) for w in writes} >= {("work_order", "WO-42"), ("setpoint", 1234)}
    assert text(await holding(client, UNITS["badc"], 40, 10), "little") == "WO-42"


async def test_set_counter_near_wrap(sim: Simulator, client: AsyncModbusTcpClient) -> None:
    sim.post("/faults", {"action": "set_counter", "machine": "abcd", "counter": "scrap", "value": 4294967290})
    regs = await holding(client, UNITS["abcd"], 2, 2)
    assert unpack(">I", regs, "big", "big") == 4294967290
    assert sim.ground_truth()["machines"]["abcd"]["counter_resets"][-1]["to"] == 4294967290


async def test_125_register_reads_on_the_scratch_area(client: AsyncModbusTcpClient) -> None:
    assert len(await holding(client, UNITS["fast"], 100, 125)) == 125


def mbpoll(sim: Simulator, unit: int, *args: str) -> str:
    cmd = [
        "/usr/bin/mbpoll",
        "-m",
        "tcp",
        "-p",
        str(sim.modbus_port),
        "-a",
        str(unit),
        *args,
        "-1",
        "127.0.0.1",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    return done.stdout + done.stderr


def test_mbpoll_reads_what_the_contract_says(sim: Simulator) -> None:
    out = mbpoll(sim, UNITS["abcd"], "-r", "1", "-c", "2", "-t", "4")  # 1-based: registers 0-1
    assert "[1]: \t4660" in out and "[2]: \t22136" in out  # 0x1234, 0x5678
    assert "[1]: \t305419896" in mbpoll(sim, UNITS["abcd"], "-r", "1", "-t", "4:int", "-B")
    assert "[1]: \t305419896" in mbpoll(
        sim, UNITS["cdab"], "-r", "1", "-t", "4:int"
    )  # mbpoll's default: CDAB
    assert "Illegal data address" in mbpoll(sim, UNITS["abcd"], "-r", "13", "-t", "4")


def test_modbus_rtu_over_a_pty_pair_with_mbpoll(sim: Simulator) -> None:
    tty = sim.workdir / "ttySIM"  # the module's simulator runs with --rtu there
    base = ["/usr/bin/mbpoll", "-m", "rtu", "-b", "19200", "-P", "none", "-o", "0.5", "-1"]
    cmd = [*base, "-a", "3", "-r", "1", "-t", "4:int", str(tty)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    assert "[1]: \t305419896" in done.stdout, done.stdout + done.stderr  # cdab: mbpoll's default word order
    sim.post("/faults", {"action": "modbus_exception", "machine": "abcd", "code": 4})
    try:
        done = subprocess.run(
            [*base, "-a", "2", "-r", "1", str(tty)], capture_output=True, text=True, timeout=20
        )
    finally:
        sim.post("/faults", {"action": "modbus_exception", "machine": "abcd", "code": 0})
    assert "Slave device or server failure" in done.stdout + done.stderr

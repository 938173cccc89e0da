"""The whole edge (`takt edge` subprocess) against the simulator and a private mosquitto it may kill."""

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.buffer import Outbox
from shared import messages
from tests.edge.support import Consumer, counter_tags, edge_process, modbus_device, wait_until, write_config
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.processes import TaktProcess
from tests.support.simulator import Simulator

NS = "nsu=urn:takt:simulator;s=mold."
OPCUA_TAGS = [{"name": "good_count", "address": NS + "good_count", "role": "counter", "width": 32}]


def devices(sim: Simulator, analog_always: bool = True) -> list[dict[str, Any]]:
    mold = {"name": "mold", "protocol": "opcua", "machine": "mold", "endpoint": sim.opcua_endpoint,
            "sampling_ms": 50, "publishing_ms": 50, "watchdog_s": 0.5, "backoff_max_s": 0.5,
            "tags": OPCUA_TAGS}  # fmt: skip
    return [modbus_device("fast16", sim.modbus_port, 5, counter_tags(16, analog_always)), mold]


@pytest.fixture
def consumer(mosquitto: Mosquitto) -> Iterator[Consumer]:
    client = Consumer(mosquitto.port).start()
    yield client
    client.stop()


@pytest.fixture
def edges() -> Iterator[list[TaktProcess]]:
    started: list[TaktProcess] = []
    yield started
    for process in started:
        process.stop()


def start_edge(edges: list[TaktProcess], config: Path) -> TaktProcess:
    process = edge_process(config, config.parent / f"edge{len(edges)}.log")
    edges.append(process)
    return process


def outbox_state(path: Path) -> tuple[int, int, int, dict[str, int]]:
    """(depth, next_seq, acked_seq, dropped) of an edge's outbox, read while the edge may run."""
    if not path.exists():
        return 0, 1, 0, {}
    outbox = Outbox(path)
    try:
        return outbox.depth, outbox.next_seq, outbox.acked_seq, dict(outbox.dropped)
    finally:
        outbox.close()


def assert_every_part(values: list[int], width: int = 16) -> None:
    """Consecutive counter samples differ by 0 or 1 part (mod the width): none missed, none reordered."""
    steps = [(b - a) % (1 << width) for a, b in itertools.pairwise(values)]
    assert set(steps) <= {0, 1}, steps
    assert sum(steps) >= 3, "the counter moved"


def assert_contiguous(consumer: Consumer) -> int:
    seqs = sorted(consumer.batches)
    assert seqs == list(range(1, len(seqs) + 1)), "every seq once, no gap"
    return seqs[-1]


@pytest.mark.faults
def test_broker_killed_mid_production_loses_and_doubles_nothing(
    sim: Simulator, mosquitto: Mosquitto, consumer: Consumer, edges: list[TaktProcess], tmp_path: Path
) -> None:
    edge = start_edge(edges, write_config(tmp_path / "edge.yaml", mosquitto.port, devices(sim)))
    wait_until(lambda: len(consumer.samples("fast16", "good_count")) >= 3, 20, "first counts")
    mosquitto.kill()
    time.sleep(2.5)  # the outage itself: production goes on, the edge buffers
    mosquitto.start()
    before = consumer.contiguous
    wait_until(lambda: any(b.historical for b in consumer.batches.values()), 20, "replayed batches")
    wait_until(lambda: consumer.contiguous > before + 40, 30, "live data after the replay")
    wait_until(lambda: consumer.contiguous == max(consumer.batches), 10, "acks to catch up")
    last = assert_contiguous(consumer)
    assert last > before
    assert_every_part([s.value for s in consumer.samples("fast16", "good_count")])  # type: ignore[misc]
    mold = [s.value for s in consumer.samples("mold", "good_count")]
    assert mold == sorted(mold, key=lambda v: (v < 2**31, v)), "OPC UA counter in order"  # type: ignore[operator]
    edge.stop()
    assert "Traceback" not in edge.output()


@pytest.mark.faults
def test_kill_9_during_replay_then_restart(
    sim: Simulator, mosquitto: Mosquitto, consumer: Consumer, edges: list[TaktProcess], tmp_path: Path
) -> None:
    pacing = {"replay_rate": 15, "max_inflight": 5, "historical_after_ms": 200}
    config = write_config(tmp_path / "edge.yaml", mosquitto.port, devices(sim), publishing=pacing)
    mosquitto.kill()
    first = start_edge(edges, config)
    outbox_path = tmp_path / "outbox.db"
    wait_until(lambda: outbox_state(outbox_path)[0] >= 40, 20, "a backlog")
    mosquitto.start()
    wait_until(lambda: len(consumer.batches) >= 5, 20, "replay to start")
    first.kill()  # SIGKILL in the middle of the replay
    _, next_seq, acked, _ = outbox_state(outbox_path)
    stored_before_kill = next_seq - 1
    assert acked < stored_before_kill, "the replay was still going"
    start_edge(edges, config)
    wait_until(lambda: consumer.contiguous > stored_before_kill + 5, 40, "replay and new data after restart")
    last = assert_contiguous(consumer)
    assert last > stored_before_kill
    assert any(consumer.batches[s].historical for s in range(1, 6))
    counts = [s.value for s in consumer.samples("fast16", "good_count")]
    steps = [(b - a) % 65536 for a, b in itertools.pairwise(counts)]  # type: ignore[operator]
    assert all(step < 100 for step in steps), "cumulative and in order; the restart gap is a jump, not a loss"


@pytest.mark.faults
def test_buffer_full_drops_analog_first_and_reports_it(
    sim: Simulator, mosquitto: Mosquitto, consumer: Consumer, edges: list[TaktProcess], tmp_path: Path
) -> None:
    config = write_config(tmp_path / "edge.yaml", mosquitto.port, devices(sim), buffer={"max_bytes": 10_000})
    mosquitto.kill()
    start_edge(edges, config)
    outbox_path = tmp_path / "outbox.db"
    wait_until(lambda: outbox_state(outbox_path)[3].get("analog", 0) > 50, 40, "drops")
    time.sleep(1)  # a little more production while full
    mosquitto.start()

    def dropped() -> int:
        status = consumer.last_status()
        return status.buffer.dropped_samples.get("analog", 0) if status and status.buffer else 0

    wait_until(lambda: dropped() > 50, 20, "dropped count in the status")
    wait_until(
        lambda: consumer.contiguous > 10 and consumer.contiguous == max(consumer.batches), 20, "catch-up"
    )
    assert_contiguous(consumer)
    status = consumer.last_status()
    assert status is not None and status.buffer is not None
    assert set(status.buffer.dropped_samples) == {"analog"}, "never a counter, state or run sample"
    assert_every_part([s.value for s in consumer.samples("fast16", "good_count")])  # type: ignore[misc]
    assert consumer.samples("fast16", "state") and consumer.samples("fast16", "running")


def test_status_commands_and_unreachable_device(
    sim: Simulator, mosquitto: Mosquitto, consumer: Consumer, edges: list[TaktProcess], tmp_path: Path
) -> None:
    work_order = {
        "name": "work_order",
        "table": "holding",
        "address": 40,
        "type": "string(20)",
        "writable": True,
    }
    writable = [*counter_tags(32), work_order]
    gone = modbus_device("gone", free_port(), 1, counter_tags(16))
    extra = [modbus_device("m-bb", sim.modbus_port, 1, writable), gone]
    config = write_config(tmp_path / "edge.yaml", mosquitto.port, [*devices(sim), *extra])
    start_edge(edges, config)

    def device(name: str) -> messages.DeviceStatus | None:
        status = consumer.last_status()
        return next((d for d in status.devices if d.name == name), None) if status else None

    wait_until(lambda: (d := device("fast16")) and d.connected, 20, "fast16 connected in the status")
    wait_until(lambda: (d := device("gone")) and d.error, 20, "gone reported down")
    assert "cannot connect" in (device("gone").error or "")  # type: ignore[union-attr]
    status = consumer.last_status()
    assert status is not None and status.online and status.next_seq
    info = {(t.machine, t.tag): t for t in status.tags}
    assert info[("fast16", "good_count")].role == "counter" and info[("fast16", "good_count")].width == 16

    def result(command_id: str) -> messages.CommandResult | None:
        return next((r for r in consumer.results if r.id == command_id), None)

    consumer.command(
        "write", messages.Command(id="w1", name="write", machine="m-bb", tag="work_order", value="WO-9")
    )
    consumer.command(
        "write", messages.Command(id="w2", name="write", machine="m-bb", tag="good_count", value=1)
    )
    assert wait_until(lambda: result("w1"), 10, "write result").ok
    refused = wait_until(lambda: result("w2"), 10, "refused write")
    assert not refused.ok and "not writable" in (refused.error or "")
    wait_until(
        lambda: any(s.value == "WO-9" for s in consumer.samples("m-bb", "work_order")), 10, "written value"
    )

    original = config.read_text()
    config.write_text(original.replace("type: uint16", "type: uint99", 1))
    consumer.command("reload", messages.Command(id="r1", name="reload"))
    bad = wait_until(lambda: result("r1"), 10, "bad reload result")
    assert not bad.ok and "uint99" in (bad.error or "")
    seen = consumer.contiguous
    wait_until(lambda: consumer.contiguous > seen + 3, 10, "the old config keeps running")

    config.write_text(original.replace("name: gone", "name: gone2"))
    consumer.command("reload", messages.Command(id="r2", name="reload"))
    assert wait_until(lambda: result("r2"), 10, "reload result").ok
    wait_until(
        lambda: device("gone2") is not None and device("gone") is None, 10, "new device list in the status"
    )
    wait_until(lambda: consumer.contiguous == max(consumer.batches), 10, "acks to catch up")
    assert_contiguous(consumer)
    wait_until(lambda: (d := device("mold")) and d.connected, 20, "mold back after the reload")


@pytest.mark.faults
def test_device_faults_leave_the_other_devices_flowing(
    sim: Simulator, mosquitto: Mosquitto, consumer: Consumer, edges: list[TaktProcess], tmp_path: Path
) -> None:
    extra = modbus_device("m-bb", sim.modbus_port, 1, counter_tags(32), bad_recheck_s=1)
    config = write_config(tmp_path / "edge.yaml", mosquitto.port, [*devices(sim, False), extra])
    start_edge(edges, config)

    def qualities(machine: str, since: int = 0) -> list[tuple[object, str]]:
        return [(s.value, s.quality) for s in consumer.samples(machine, "good_count")[since:]]

    def flowing(machine: str, since: int, count: int = 3) -> bool:
        return sum(1 for _, q in qualities(machine, since) if q == "good") >= count

    wait_until(
        lambda: flowing("fast16", 0) and flowing("mold", 0, 2) and qualities("m-bb"), 20, "all flowing"
    )
    try:
        # OPC UA server restart: mold goes stale and comes back; fast16 never stops
        marks = {m: len(qualities(m)) for m in ("fast16", "mold")}
        sim.post("/faults", {"action": "restart", "protocol": "opcua", "down_s": 50})
        wait_until(lambda: "stale" in {q for _, q in qualities("mold", marks["mold"])}, 20, "mold stale")
        stale_at = {m: len(qualities(m)) for m in ("fast16", "mold")}
        wait_until(lambda: flowing("fast16", stale_at["fast16"], 2), 10, "fast16 during the OPC UA outage")
        assert not flowing("mold", stale_at["mold"], 1), "mold was still down meanwhile"
        wait_until(
            lambda: flowing("mold", marks["mold"], 1) and flowing("fast16", marks["fast16"], 6), 30, "back"
        )
        # Modbus exception 02 on m-bb: its tags go bad (a config error), the others flow on
        marks = {m: len(qualities(m)) for m in ("fast16", "mold", "m-bb")}
        sim.post("/faults", {"action": "modbus_exception", "machine": "m-bb", "code": 2, "duration_s": 30})
        wait_until(lambda: "bad" in {q for _, q in qualities("m-bb", marks["m-bb"])}, 20, "m-bb bad")
        wait_until(
            lambda: flowing("fast16", marks["fast16"]) and flowing("mold", marks["mold"], 1), 20, "others"
        )
        bad = [v for v, q in qualities("m-bb", marks["m-bb"]) if q == "bad"]
        assert bad == [None], "a refused tag is reported bad once, with no value"
        # a silent unit (timeouts): fast16 goes stale with its last value, m-bb recovers by its re-check
        sim.post("/faults", {"action": "clear"})
        marks = {m: len(qualities(m)) for m in ("fast16", "mold", "m-bb")}
        sim.post(
            "/faults", {"action": "silence", "protocol": "modbus", "machine": "fast16", "duration_s": 30}
        )
        wait_until(
            lambda: "stale" in {q for _, q in qualities("fast16", marks["fast16"])}, 20, "fast16 stale"
        )
        stale = [v for v, q in qualities("fast16", marks["fast16"]) if q == "stale"]
        assert stale and stale[0] is not None, "stale keeps the last value"
        wait_until(
            lambda: flowing("m-bb", marks["m-bb"], 1) and flowing("mold", marks["mold"], 2), 20, "others"
        )
    finally:
        sim.post("/faults", {"action": "clear"})
    wait_until(lambda: consumer.contiguous == max(consumer.batches), 10, "acks to catch up")
    assert_contiguous(consumer)


@pytest.mark.faults
def test_no_ack_means_resend_until_the_server_acks(
    sim: Simulator, mosquitto: Mosquitto, edges: list[TaktProcess], tmp_path: Path
) -> None:
    consumer = Consumer(mosquitto.port, ack=False).start()  # a server that stores but cannot ack yet
    try:
        config = write_config(tmp_path / "edge.yaml", mosquitto.port, devices(sim),
                              publishing={"ack_timeout_s": 1, "max_inflight": 10})  # fmt: skip
        start_edge(edges, config)
        wait_until(lambda: consumer.duplicates >= 10, 20, "resends of the unacked window")
        assert len(consumer.batches) == 10, "never more than max_inflight unacked batches"
        consumer.acking = True
        consumer.send_ack(consumer.contiguous)
        wait_until(lambda: len(consumer.batches) > 30, 20, "flow after the ack")
        wait_until(lambda: outbox_state(tmp_path / "outbox.db")[2] > 30, 20, "acked batches deleted")
        assert_contiguous(consumer)
    finally:
        consumer.stop()

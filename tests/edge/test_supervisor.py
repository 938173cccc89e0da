"""Supervised device loops and commands at a stop: an agent in this process, the simulator, mosquitto."""

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from edge import config as config_mod
from edge.agent import Agent
from edge.codec import Value
from edge.sources.modbus import ModbusSource
from shared import messages
from tests.edge.support import Consumer, counter_tags, modbus_device, source, write_config
from tests.support.mosquitto import Mosquitto
from tests.support.simulator import Simulator
from tests.support.waiting import wait_until_async as until

SETPOINT = {"name": "setpoint", "table": "holding", "address": 50, "type": "uint16", "writable": True}


@pytest.fixture
def consumer(mosquitto: Mosquitto) -> Any:
    client = Consumer(mosquitto.port).start()
    yield client
    client.stop()


@pytest.fixture
async def agent(sim: Simulator, mosquitto: Mosquitto, tmp_path: Path) -> AsyncIterator[Agent]:
    devices = [
        modbus_device("sick", sim.modbus_port, 5, counter_tags(16)),
        modbus_device("well", sim.modbus_port, 1, [*counter_tags(32, analog_always=True), SETPOINT]),
    ]
    agent = Agent(config_mod.load(write_config(tmp_path / "edge.yaml", mosquitto.port, devices)))
    runner = asyncio.create_task(agent.run(), name="agent")
    await until(
        lambda: (
            set(agent.sources) == {"sick", "well"} and all(s.health.connected for s in agent.sources.values())
        ),
        20,
        "both devices up",
    )
    yield agent
    agent.stop()
    await runner


def device_status(agent: Agent, name: str) -> messages.DeviceStatus:
    return next(d for d in agent.status().devices if d.name == name)


async def test_an_unexpected_error_restarts_the_device_loop_until_it_recovers(
    agent: Agent, consumer: Consumer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="edge")
    sick = agent.sources["sick"]
    assert isinstance(sick, ModbusSource)
    loop, task = agent.device_loops["sick"], agent.device_tasks["sick"]
    codec = sick.codecs[0]
    assert codec is not None
    faulty = True

    def broken(registers: Sequence[int], index: int) -> Value:  # a codec bug, while `faulty`
        if faulty:
            raise ValueError("codec bug")
        return codec.decode(registers, index)

    await until(lambda: consumer.samples("sick", "good_count"), 20, "first counts of sick")
    sick.codecs[0] = dataclasses.replace(codec, decode=broken)
    await until(lambda: loop.restarts >= 3, 20, "three restarts")
    status = device_status(agent, "sick")
    assert not status.connected and "ValueError('codec bug')" in (status.error or "")
    assert device_status(agent, "well").connected
    assert not task.done(), "the loop keeps running"
    well_before = len(consumer.samples("well", "temperature"))
    await until(lambda: len(consumer.samples("well", "temperature")) > well_before + 5, 10, "well polling on")
    await until(
        lambda: any(s.quality == "stale" for s in consumer.samples("sick", "good_count")), 10, "stale"
    )

    faulty = False
    await until(lambda: device_status(agent, "sick").connected, 20, "sick back")
    assert device_status(agent, "sick").error is None
    good_before = len([s for s in consumer.samples("sick", "good_count") if s.quality == "good"])
    await until(
        lambda: len([s for s in consumer.samples("sick", "good_count") if s.quality == "good"]) > good_before,
        20,
        "good counts of sick again",
    )
    traced = [r for r in caplog.records if r.exc_info and r.name.startswith("edge")]
    assert len(traced) == 1, [r.getMessage() for r in traced]
    assert traced[0].levelno == logging.ERROR and "sick" in traced[0].getMessage()
    assert isinstance(traced[0].exc_info[1], ValueError)  # type: ignore[index]
    assert caplog.text.count("Traceback") == 1
    recovered = [r for r in caplog.records if "running again" in r.getMessage()]
    assert len(recovered) == 1 and recovered[0].levelno == logging.INFO
    assert "sick" in recovered[0].getMessage()


async def test_commands_in_flight_finish_and_report_before_the_agent_stops(
    sim: Simulator, mosquitto: Mosquitto, tmp_path: Path, consumer: Consumer
) -> None:
    devices = [modbus_device("well", sim.modbus_port, 1, [*counter_tags(32), SETPOINT])]
    agent = Agent(config_mod.load(write_config(tmp_path / "edge.yaml", mosquitto.port, devices)))
    runner = asyncio.create_task(agent.run(), name="agent")
    await until(lambda: agent.sources and agent.sources["well"].health.connected, 20, "the device up")
    await until(lambda: consumer.statuses, 20, "the agent on the broker")
    value = 4000 + int(time.monotonic()) % 1000
    agent._command(messages.Command(id="w-stop", name="write", machine="well", tag="setpoint", value=value))
    agent.stop()  # the write has not even started yet
    await runner
    assert not agent.command_tasks
    result = await until(lambda: next((r for r in consumer.results if r.id == "w-stop"), None), 10, "result")
    assert result.ok, result.error
    check, _ = source(sim, "check", 1, [SETPOINT])
    values = await check.read_once()
    assert values["check/setpoint"][0] == value

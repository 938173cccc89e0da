"""Live events across replicas (server/ingest/fanout.py) on the machine's PostgreSQL: each `Fanout` here
is one replica, with its own bus; the lifespan test runs the app's own fan-out on the process's bus.

Exactly-once without waiting on a clock: PostgreSQL hands a listener its notifications in commit order, so
once a subscriber got an event the other replica sent after receiving ours, an echo of ours (had the
origin not been skipped) would already be in that subscriber's queue.
"""

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url

from server.core import events
from server.core.events import (
    CountsChanged,
    EdgeChanged,
    Event,
    EventBus,
    InspectionRecorded,
    MachineStateChanged,
    Subscription,
    event_from_json,
)
from server.core.services import services_of
from server.core.settings import Settings
from server.ingest.fanout import CHANNEL, Fanout, conninfo_of
from server.main import create_app
from tests.support.faultproxy import FaultProxy
from tests.support.postgres import ADMIN_DSN

WAIT_S = 10.0


def state(n: int, machine: str = "M1") -> MachineStateChanged:
    return MachineStateChanged(machine_id=1, machine=machine, state="running", since_ms=n)


async def take(sub: Subscription, count: int) -> list[Event]:
    return [await asyncio.wait_for(sub.queue.get(), WAIT_S) for _ in range(count)]


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def terminate(pid: int | None) -> None:
    assert pid is not None
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


@pytest.fixture
def conninfo(pg_url_fresh: str) -> str:
    return conninfo_of(make_url(pg_url_fresh))


@pytest.fixture
def replica() -> Iterator[Callable[[str], Fanout]]:
    """Factory: a started Fanout with its own bus on `conninfo`, listening; stopped afterwards."""
    started: list[Fanout] = []

    def start(conninfo: str) -> Fanout:
        fanout = Fanout(conninfo, EventBus(), backoff_min_s=0.05, backoff_max_s=0.2)
        fanout.start()
        started.append(fanout)
        assert fanout.wait_listening(WAIT_S), "the listener did not LISTEN"
        return fanout

    yield start
    for fanout in started:
        fanout.stop()


def test_every_event_kind_reads_back_from_its_json() -> None:
    for event in (
        state(5),
        CountsChanged(machine_id=2, machine="P2", operation_id=None, good=3, scrap=0, ts_ms=7),
        CountsChanged(machine_id=2, machine="P2", operation_id=9, good=3, scrap=1, ts_ms=7),
        EdgeChanged(edge_id="edge-1", online=False),
        InspectionRecorded(work_order="WO-1", passed=True),
    ):
        assert event_from_json(event.to_json()) == event


COUNTS = {
    "kind": "counts",
    "machine_id": 1,
    "machine": "M",
    "operation_id": 7,
    "good": 1,
    "scrap": 0,
    "ts_ms": 1,
}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (["edge"], "JSON object"),
        ({"kind": "nope"}, "unknown event kind"),
        ({"kind": "edge", "edge_id": "e"}, "fields"),
        ({"kind": "edge", "edge_id": "e", "online": True, "extra": 1}, "fields"),
        ({"kind": "edge", "edge_id": 5, "online": True}, "edge_id"),
        ({**COUNTS, "machine_id": True}, "machine_id"),
        ({**COUNTS, "operation_id": "7"}, "operation_id"),
        ({**COUNTS, "good": None}, "good"),
    ],
)
def test_what_is_not_an_event_is_refused_clearly(data: Any, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        event_from_json(json.dumps(data))


@pytest.mark.postgres
async def test_an_event_reaches_the_other_replica_once_and_never_echoes(
    conninfo: str, replica: Callable[[str], Fanout]
) -> None:
    a, b = replica(conninfo), replica(conninfo)
    async with a.bus.subscribe() as on_a, b.bus.subscribe() as on_b:
        a.bus.publish(state(1))
        a.bus.publish(state(2))
        assert await take(on_b, 2) == [state(1), state(2)]
        b.bus.publish(state(3))  # sent after B got A's: an echo of 1 or 2 on A would come before it
        assert await take(on_a, 3) == [state(1), state(2), state(3)]
        a.bus.publish(state(4))
        assert await take(on_b, 2) == [state(3), state(4)]
        assert on_a.queue.get_nowait() == state(4)
        assert on_a.queue.empty() and on_b.queue.empty()
    wait_for(lambda: (a.sent, b.sent) == (3, 1), "the senders counted")  # after PostgreSQL answered
    assert (a.sent, a.received, a.dropped) == (3, 1, 0)
    assert (b.sent, b.received, b.dropped) == (1, 3, 0)
    assert a.missed_notifications == b.missed_notifications == 0


@pytest.mark.postgres
async def test_a_burst_is_packed_into_several_notifications_in_order(
    conninfo: str, replica: Callable[[str], Fanout]
) -> None:
    a, b = replica(conninfo), replica(conninfo)
    burst = [state(n, machine=f"press-{n:04d}-" + "x" * 60) for n in range(400)]  # ~60 kB of events
    async with b.bus.subscribe(maxsize=1000) as on_b:
        for event in burst:
            a.bus.publish(event)
        assert await take(on_b, len(burst)) == burst
        huge = state(-1, machine="m" * 9000)  # alone over PostgreSQL's 8000-byte payload limit
        a.bus.publish(huge)
        a.bus.publish(state(400))
        assert await take(on_b, 1) == [state(400)]
    wait_for(lambda: a.sent == 401, "A counted")
    assert a.dropped == 1 and b.received == 401


@pytest.mark.postgres
async def test_foreign_notifications_are_counted_and_ignored_and_a_resent_one_is_read_once(
    conninfo: str, replica: Callable[[str], Fanout]
) -> None:
    a, b = replica(conninfo), replica(conninfo)
    resent = json.dumps({"origin": "x", "seq": 1, "events": [json.loads(state(0).to_json())]})
    async with b.bus.subscribe() as on_b:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for payload in (
                "hello",
                '{"origin": "x", "seq": 2, "events": [{"kind": "edge"}]}',
                resent,
                resent,
            ):
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
        a.bus.publish(state(1))
        assert await take(on_b, 2) == [state(0), state(1)]  # the resent copy once
        assert on_b.queue.empty()
    assert b.invalid == 2 and b.received == 2


@pytest.mark.postgres
async def test_terminated_backends_reconnect_and_events_flow_again(
    conninfo: str, replica: Callable[[str], Fanout]
) -> None:
    a, b = replica(conninfo), replica(conninfo)
    async with b.bus.subscribe() as on_b:
        a.bus.publish(state(1))
        assert await take(on_b, 1) == [state(1)]
        old_listener, old_sender = b.listener_pid, a.sender_pid
        terminate(old_listener)
        wait_for(lambda: b.listener_pid not in (None, old_listener), "B listening again")
        terminate(old_sender)  # the next send finds it dead and reconnects at once: nothing lost
        a.bus.publish(state(2))
        assert await take(on_b, 1) == [state(2)]
    assert a.sender_pid != old_sender
    wait_for(lambda: a.sent == 2, "A counted")
    assert (a.dropped, b.received) == (0, 2)


@pytest.mark.postgres
async def test_an_outage_of_the_listener_is_counted_as_missed(
    conninfo: str, replica: Callable[[str], Fanout], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.ingest.fanout")
    a = replica(conninfo)
    with _behind_a_proxy(conninfo, replica) as (b, proxy):
        async with b.bus.subscribe() as on_b:
            a.bus.publish(state(1))
            assert await take(on_b, 1) == [state(1)]
            proxy.cut()  # B's connection closed, new ones refused
            a.bus.publish(state(2))
            a.bus.publish(state(3))
            wait_for(lambda: a.sent == 3, "A sent while B was cut off")
            wait_for(lambda: not b.wait_listening(0), "B noticed")
            proxy.restore()
            assert b.wait_listening(WAIT_S)
            a.bus.publish(state(4))
            assert await take(on_b, 1) == [state(4)]
            assert on_b.queue.empty()
        b.stop()  # before the proxy goes: that would be a second outage
    assert b.received == 2 and b.missed_notifications >= 1  # 2 and 3: one notification or two
    lost = [r for r in caplog.records if "listen connection to PostgreSQL lost" in r.getMessage()]
    back = [r for r in caplog.records if "listen connection back" in r.getMessage()]
    assert len(lost) == 1 and len(back) == 1


@pytest.mark.postgres
async def test_a_sender_outage_drops_and_counts_events_and_recovers(
    conninfo: str, replica: Callable[[str], Fanout], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.ingest.fanout")
    b = replica(conninfo)
    with _behind_a_proxy(conninfo, replica) as (a, proxy):
        async with a.bus.subscribe() as on_a, b.bus.subscribe() as on_b:
            a.bus.publish(state(1))
            assert await take(on_b, 1) == [state(1)]
            wait_for(lambda: a.sent == 1, "A counted")  # else a cut before PostgreSQL's answer drops it too
            proxy.cut()
            for n in range(2, 12):
                a.bus.publish(state(n))  # returns at once: only a queue
            assert await take(on_a, 11) == [state(n) for n in range(1, 12)]  # the local page misses none
            wait_for(lambda: a.dropped == 10, "A dropped what it could not send")
            assert a.snapshot()["sending"] is False
            proxy.restore()
            probes = await _probe_until_one_arrives(a, on_b)  # dropped until the backoff lets it reconnect
            a.bus.publish(state(-1))
            arrived = await _until(on_b, state(-1))
        assert on_b.queue.empty()
        a.stop()
    assert len(set(arrived)) == len(arrived) and set(arrived) <= set(probes)  # no doubles
    wait_for(lambda: a.sent == 1 + len(arrived) + 1, "A counted")
    assert a.dropped == 10 + len(probes) - len(arrived)
    assert a.snapshot()["sending"] is True
    lost = [r for r in caplog.records if "send connection to PostgreSQL lost" in r.getMessage()]
    back = [r.getMessage() for r in caplog.records if "send connection back" in r.getMessage()]
    assert len(lost) == 1 and len(back) == 1 and f"; {a.dropped} events were not sent" in back[0]


async def _probe_until_one_arrives(fanout: Fanout, sub: Subscription) -> list[Event]:
    """Publish a new event every 0.3 s until the other side gets one (put back in its queue)."""
    probes: list[Event] = []
    while len(probes) < 100:
        probes.append(state(1000 + len(probes)))
        fanout.bus.publish(probes[-1])
        try:
            first = await asyncio.wait_for(sub.queue.get(), 0.3)
        except TimeoutError:
            continue
        sub.queue.put_nowait(first)
        return probes
    raise AssertionError("no event went through after the outage")


async def _until(sub: Subscription, last: Event) -> list[Event]:
    """The events before `last` (which is taken too)."""
    got: list[Event] = []
    while (event := await asyncio.wait_for(sub.queue.get(), WAIT_S)) != last:
        got.append(event)
    return got


@contextlib.contextmanager
def _behind_a_proxy(conninfo: str, replica: Callable[[str], Fanout]) -> Iterator[tuple[Fanout, FaultProxy]]:
    """A replica whose connections to PostgreSQL go through a FaultProxy (to cut and restore them)."""
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    host, port = str(params["host"]), int(str(params["port"]))
    with FaultProxy(host, port) as proxy:
        yield replica(psycopg.conninfo.make_conninfo(conninfo, port=proxy.port)), proxy


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_the_lifespan_runs_the_fanout_on_postgresql_and_stops_it(
    settings: Settings, engine: Engine, replica: Callable[[str], Fanout]
) -> None:
    with TestClient(create_app(settings, engine=engine)) as client:
        fanout: Any = services_of(client.app).fanout  # type: ignore[arg-type]
        if engine.dialect.name == "sqlite":
            assert fanout is None and events.bus.relay is None
            return
        assert fanout.wait_listening(WAIT_S)
        other = replica(conninfo_of(engine.url))
        async with events.bus.subscribe() as here, other.bus.subscribe() as there:
            events.bus.publish(EdgeChanged("edge-1", online=True))  # as the ingest worker does
            assert await take(there, 1) == [EdgeChanged("edge-1", online=True)]
            other.bus.publish(EdgeChanged("edge-2", online=False))
            assert await take(here, 2) == [EdgeChanged("edge-1", True), EdgeChanged("edge-2", False)]
            assert here.queue.empty()
    assert events.bus.relay is None
    other.stop()
    assert not [thread.name for thread in threading.enumerate() if thread.name.startswith("takt-fanout")]
    assert (fanout.sent, fanout.received, fanout.dropped) == (1, 1, 0)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_the_fanout_connects_where_live_fanout_url_says(
    settings: Settings, engine: Engine, replica: Callable[[str], Fanout]
) -> None:
    """TAKT_LIVE_FANOUT_URL: PostgreSQL itself when TAKT_DATABASE_URL goes through a transaction pooler."""
    assert engine.url.host is not None and engine.url.port is not None
    with FaultProxy(engine.url.host, engine.url.port) as proxy:
        url = engine.url.set(port=proxy.port).render_as_string(hide_password=False)
        direct = settings.model_copy(update={"live_fanout_url": url})
        with TestClient(create_app(direct, engine=engine)) as client:
            fanout: Any = services_of(client.app).fanout  # type: ignore[arg-type]
            assert fanout.wait_listening(WAIT_S)
            other = replica(conninfo_of(engine.url))
            async with other.bus.subscribe() as there:
                events.bus.publish(EdgeChanged("edge-1", online=True))
                assert await take(there, 1) == [EdgeChanged("edge-1", True)]
            assert proxy.stats.connections == 2  # the listener's and the sender's; the app's pool is direct

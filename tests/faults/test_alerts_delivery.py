"""Alerts end to end: a simulator machine faults past the rule's minutes -> edge -> broker -> server -> rule
engine -> outbox -> a webhook receiver; and the outbox's promise under `kill -9` and with two replicas.

The receivers stand in for chat providers and ERPs on the internet (tests/support/receivers.py); messages
are counted there by their `X-Takt-Delivery` id. The plant is the fault suite's (tests/faults/plant.py)
with the alert loops fast: rules evaluated every 0.3 s, retries after 0.2-1 s, never given up.
"""

import collections
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from server.core.db import make_engine
from server.domain import daily_brief, named_reports
from server.models.alerts import AlertMessage
from server.models.plant import Site
from tests.faults.plant import ADMIN_TOKEN, MACHINES, SITE, Plant, Window
from tests.support.ports import free_port
from tests.support.postgres import fresh_database
from tests.support.processes import TaktProcess
from tests.support.receivers import HttpReceiver
from tests.support.waiting import wait_until

FAST = {
    "TAKT_ALERT_EVAL_S": "0.3",
    "TAKT_ALERT_POLL_S": "0.2",
    "TAKT_ALERT_RETRY_BASE_S": "0.2",
    "TAKT_ALERT_RETRY_MAX_S": "1",
    "TAKT_ALERT_MAX_ATTEMPTS": "100000",
    "TAKT_ALERT_LEASE_S": "3",
}
DOWN_MIN = 0.05  # 3 s
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@contextmanager
def alert_plant(workdir: Path, db_url: str | None = None) -> Iterator[Plant]:
    plant = Plant(workdir, db_url)
    plant.server.env.update(FAST)
    try:
        plant.start()
        yield plant
    finally:
        plant.stop()


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    with alert_plant(tmp_path_factory.mktemp("alerts")) as running:
        yield running


def _api(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.request(method, f"{base}/api/v1{path}", json=body, headers=HEADERS, timeout=10)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def _watch(plant: Plant, receiver: HttpReceiver) -> int:
    """A webhook channel to `receiver` and a machine-down rule routed to it (the only enabled rule)."""
    for rule in _api(plant.base, "GET", "/alerts/rules"):
        _api(plant.base, "DELETE", f"/alerts/rules/{rule['id']}")
    channel = _api(
        plant.base,
        "POST",
        "/alerts/channels",
        {
            "name": f"hook {receiver.port}",
            "kind": "webhook",
            "lang": "en",
            "url": receiver.url("/in"),
            "secret": "s3cret",
        },
    )
    _api(
        plant.base,
        "POST",
        "/alerts/rules",
        {
            "name": f"down {receiver.port}",
            "kind": "machine_down",
            "threshold": DOWN_MIN,
            "channel_ids": [channel["id"]],
        },
    )
    return int(channel["id"])


def _fault(plant: Plant, machines: list[str], state: str) -> None:
    for machine in machines:
        plant.sim.post("/faults", {"action": "set_state", "machine": machine, "state": state})


def _titles(receiver: HttpReceiver) -> list[str]:
    return [r.json()["title"] for r in receiver.received()]


def _messages(plant: Plant, channel_id: int) -> list[AlertMessage]:
    return _outbox(plant.engine, channel_id)


def _all_sent(plant: Plant, channel_id: int) -> bool:
    return all(m.state == "sent" for m in _messages(plant, channel_id))


def _exactly_once(receiver: HttpReceiver, plant: Plant, channel_id: int) -> None:
    """Every message of the channel reached the receiver, each exactly once."""
    counted = collections.Counter(int(r.headers["x-takt-delivery"]) for r in receiver.received())
    sent = {m.id for m in _messages(plant, channel_id)}
    assert set(counted) == sent and set(counted.values()) == {1}, (counted, sent)


def test_machine_fault_alerts_once_then_resolved_and_groups(plant: Plant) -> None:
    receiver = HttpReceiver(answer=lambda _r: (200, {})).start()
    try:
        channel_id = _watch(plant, receiver)
        _fault(plant, ["press16"], "fault")
        wait_until(lambda: len(receiver.received()) >= 1, 60, "the machine-down alert")
        _fault(plant, ["press16"], "running")
        wait_until(lambda: len(receiver.received()) >= 2, 60, "the resolved message")
        assert _titles(receiver) == ["Machine down: press16", "Resolved: Machine down: press16"]
        assert "/boss/machines/press16" in receiver.received()[0].json()["text"]
        _fault(plant, MACHINES, "fault")  # every machine at once: one message naming them all
        wait_until(lambda: len(receiver.received()) >= 3, 60, "the grouped alert")
        _fault(plant, MACHINES, "idle")
        wait_until(lambda: len(receiver.received()) >= 4, 60, "the grouped resolved message")
        wait_until(lambda: _all_sent(plant, channel_id), 30, "nothing left to send")
        titles = _titles(receiver)
        assert titles[2:] == [
            f"Machine down: {len(MACHINES)} items",
            f"Resolved: Machine down: {len(MACHINES)} items",
        ]
        grouped = receiver.received()[2].json()["text"]
        assert all(f"/boss/machines/{m}" in grouped for m in MACHINES)
        _exactly_once(receiver, plant, channel_id)
    finally:
        _fault(plant, MACHINES, "idle")
        receiver.stop()


def test_kill_9_before_sending_and_while_the_receiver_is_down(plant: Plant) -> None:
    receiver = HttpReceiver(answer=lambda _r: (200, {}))  # not started: down
    channel_id = _watch(plant, receiver)
    try:
        _fault(plant, ["saw16"], "fault")
        wait_until(lambda: _messages(plant, channel_id), 60, "the alert written to the outbox")
        plant.server.kill()  # written, not sent (the receiver is down: it cannot have been)
        plant.start_server()
        wait_until(
            lambda: any(m.attempts >= 2 for m in _messages(plant, channel_id)), 60, "tries after restart"
        )
        plant.server.kill()  # while it retries against the dead receiver
        receiver.start()
        plant.start_server()
        wait_until(lambda: _all_sent(plant, channel_id), 60, "the alert delivered after the restart")
        _fault(plant, ["saw16"], "idle")
        wait_until(
            lambda: len(_messages(plant, channel_id)) == 2 and _all_sent(plant, channel_id),
            60,
            "the resolved message",
        )
        assert _titles(receiver) == ["Machine down: saw16", "Resolved: Machine down: saw16"]
        _exactly_once(receiver, plant, channel_id)
    finally:
        _fault(plant, ["saw16"], "idle")
        receiver.stop()
        plant.ensure_running()


def test_kill_9_after_the_cause_is_committed_and_before_its_alert_is_written(plant: Plant) -> None:
    """Alerts are derived from the committed state, not written by the event's own transaction: a machine
    whose fault is committed (its stop not yet past the rule's minutes when the evaluator looked) and a server
    killed before the next evaluation; the restarted server's first evaluation writes the alert, and it is
    delivered exactly once (docs/alerts.md, "Why derived from the state")."""
    receiver = HttpReceiver(answer=lambda _r: (200, {})).start()
    channel_id = _watch(plant, receiver)
    try:
        plant.server.kill()
        plant.server.env["TAKT_ALERT_EVAL_S"] = "3600"  # evaluations only on live events from now
        plant.start_server()
        _fault(plant, ["cnc32"], "fault")
        wait_until(lambda: _state(plant, "cnc32") == "fault", 60, "the fault committed by ingestion")
        time.sleep(DOWN_MIN * 60 + 1)  # past the rule's minutes: due, but no evaluation since the event's
        assert _messages(plant, channel_id) == []
        plant.server.kill()
        with plant.engine.begin() as conn:  # the dead server's evaluator lease (3 x 3600 s) has run out
            conn.execute(text("UPDATE alert_lease SET until_ms = 0"))
        plant.server.env.update(FAST)
        plant.start_server()
        wait_until(lambda: _all_sent(plant, channel_id) and _messages(plant, channel_id), 60, "delivered")
        time.sleep(1.0)  # several evaluations more: nothing again
        assert _titles(receiver) == ["Machine down: cnc32"]
        _exactly_once(receiver, plant, channel_id)
    finally:
        plant.server.env.update(FAST)
        _fault(plant, ["cnc32"], "idle")
        receiver.stop()
        plant.ensure_running()


def _state(plant: Plant, machine: str) -> str:
    return str(_api(plant.base, "GET", f"/machines/{machine}/live")["state"])


def _replica(tmp_path: Path, name: str, url: str) -> tuple[TaktProcess, str]:
    port = free_port()
    env = {
        "TAKT_DATABASE_URL": url,
        "TAKT_MQTT_ENABLED": "0",
        "TAKT_ADMIN_TOKEN": ADMIN_TOKEN,
        "TAKT_SECRET_KEY": "replicas-share-this-secret-key-0123",
        "TAKT_SITE": "faults",
        **FAST,
    }
    server = TaktProcess(["server", "--port", str(port)], tmp_path / f"{name}.log", env=env)
    server.start()
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _up(base), 60, f"replica {name}")
    return server, base


def test_two_replicas_on_postgresql_deliver_exactly_once(tmp_path: Path) -> None:
    """Two servers on one PostgreSQL share the outbox and the evaluator's lease: 20 test messages queued
    through both, a nonconformance opened (both evaluators see it), one replica killed while the receiver is
    down; then every message reaches the receiver exactly once, the NC's alert and its resolved included."""
    receiver = HttpReceiver(answer=lambda _r: (200, {}))  # down for now
    with fresh_database() as url:
        first, base1 = _replica(tmp_path, "first", url)
        second, base2 = _replica(tmp_path, "second", url)
        engine = make_engine(url)
        try:
            channel = _api(
                base1,
                "POST",
                "/alerts/channels",
                {"name": "erp", "kind": "webhook", "lang": "en", "url": receiver.url("/in"), "secret": "s"},
            )
            channel_id = int(channel["id"])
            _api(
                base2,
                "POST",
                "/alerts/rules",
                {"name": "nc", "kind": "nc_opened", "channel_ids": [channel_id]},
            )
            for i in range(20):
                _api(base1 if i % 2 else base2, "POST", f"/alerts/channels/{channel_id}/test")
            nc = _api(base2, "POST", "/nonconformances", {"description": "burr on edge", "quantity": 3})
            wait_until(lambda: len(_outbox(engine, channel_id)) == 21, 30, "the NC's alert in the outbox")
            wait_until(lambda: any(m.attempts for m in _outbox(engine, channel_id)), 30, "tries")
            first.kill()
            receiver.start()
            wait_until(lambda: all(m.state == "sent" for m in _outbox(engine, channel_id)), 60, "all sent")
            _api(base2, "POST", f"/nonconformances/{nc['id']}/disposition", {"disposition": "scrap"})
            _api(base2, "POST", f"/nonconformances/{nc['id']}/close")
            wait_until(
                lambda: (
                    len(_outbox(engine, channel_id)) == 22
                    and all(m.state == "sent" for m in _outbox(engine, channel_id))
                ),
                30,
                "resolved sent",
            )
            counted = collections.Counter(int(r.headers["x-takt-delivery"]) for r in receiver.received())
            assert set(counted) == {m.id for m in _outbox(engine, channel_id)} and set(counted.values()) == {
                1
            }
            titles = _titles(receiver)
            assert titles.count(f"Nonconformance opened: NC-{nc['id']} burr on edge") == 1
            assert titles.count(f"Resolved: Nonconformance opened: NC-{nc['id']} burr on edge") == 1
        finally:
            for server in (first, second):
                server.stop()
            engine.dispose()
            receiver.stop()


def _outbox(engine: Engine, channel_id: int) -> list[AlertMessage]:
    with Session(engine) as session:
        stmt = (
            select(AlertMessage).where(AlertMessage.channel_id == channel_id).order_by(col(AlertMessage.id))
        )
        return list(session.exec(stmt).all())


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_brief_of_a_simulated_shift_matches_the_daily_report(plant: Plant) -> None:
    """The plant runs (every machine, a few seconds at 60x: a few hundred parts; `production()` checks the
    server's count ledger against the simulator's ground truth for that window); the day's brief, in en and
    zh, says exactly the parts of the daily report's production table, which is that ledger for the day."""
    with plant.production() as window:
        time.sleep(3)
    with Session(plant.engine) as session:
        site = session.exec(select(Site).where(Site.code == SITE)).one()
        zone = ZoneInfo(site.timezone)
        day = datetime.fromtimestamp(window.end_ms / 1000, zone).date()
        since = int(datetime.combine(day, dt_time(0), tzinfo=zone).timestamp() * 1000)
        brief = daily_brief.build(session, site, day, "en", window.end_ms)
        query = named_reports.Query(site, day, day, day, locale="en")
        [production] = [
            t for t in named_reports.build(session, "daily", query, str) if t.name == "production"
        ]
        zh_brief = daily_brief.build(session, site, day, "zh_CN", window.end_ms)
    ledger = plant.counts(Window(since, window.end_ms)).values()
    good, scrap = sum(g for g, _ in ledger), sum(s for _, s in ledger)
    made = plant.truth(window).values()
    assert good >= sum(g for g, _ in made) > 0
    assert (brief.good, brief.scrap) == (good, scrap) == (zh_brief.good, zh_brief.scrap)
    assert (sum(r[-2] for r in production.rows), sum(r[-1] for r in production.rows)) == (good, scrap)
    title, body = daily_brief.message(brief, "http://t")
    assert title == f"Daily brief {day}"
    assert f"**Output vs plan**: [{good} / no plan](http://t/reports/daily?day={day})" in body
    zh_title, zh_body = daily_brief.message(zh_brief, "http://t")
    assert zh_title == f"每日简报 {day}" and f"**产量 / 计划**: [{good} / 无计划]" in zh_body

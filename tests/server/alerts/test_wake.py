"""A live event wakes the rule evaluator: with rules evaluated only every 10 minutes, a machine's state
change on the event bus gets an open nonconformance's alert to the receiver (a loopback stand-in for a chat
provider on the internet) at once."""

from fastapi.testclient import TestClient

from server.core.events import MachineStateChanged, bus
from server.main import create_app
from tests.server.alerts.conftest import alert_settings
from tests.server.conftest import ADMIN_TOKEN
from tests.support.receivers import HttpReceiver
from tests.support.waiting import wait_until


def test_a_bus_event_wakes_the_evaluator(sqlite_url: str) -> None:
    receiver = HttpReceiver(answer=lambda _r: (200, {})).start()
    try:
        with TestClient(create_app(alert_settings(sqlite_url, alert_eval_s=600))) as client:
            client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
            hook = {"name": "hook", "kind": "webhook", "lang": "en", "url": receiver.url("/in")}
            channel = client.post("/api/v1/alerts/channels", json=hook)
            rule = {"name": "nc", "kind": "nc_opened", "channel_ids": [channel.json()["id"]]}
            assert client.post("/api/v1/alerts/rules", json=rule).status_code == 201
            nc = client.post("/api/v1/nonconformances", json={"description": "crack", "quantity": 1})
            assert nc.status_code == 201
            bus.publish(MachineStateChanged(machine_id=1, machine="M1", state="fault", since_ms=0))
            [got] = wait_until(receiver.received, timeout=20, what="the NC's alert after the event")
            assert got.json()["title"] == f"Nonconformance opened: NC-{nc.json()['id']} crack"
    finally:
        receiver.stop()

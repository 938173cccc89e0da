"""`/live/events`: the event bus as JSON Server-Sent Events (FastAPI's framing), for an enrolled tablet or a
signed-in user, filtered to one machine on request."""

import json
from typing import Any

import httpx

from server.core.events import EdgeChanged, MachineStateChanged, bus
from tests.web.conftest import LiveServer, enroll_path


def test_a_tablet_follows_its_machine_as_json_events(live: LiveServer) -> None:
    with httpx.Client(base_url=live.base, timeout=10) as tablet:
        tablet.get(enroll_path(live))
        with tablet.stream("GET", "/live/events?machine=lathe-1") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == "retry: 2000"  # sent once subscribed
            bus.publish(MachineStateChanged(9001, "saw-9", "fault", 1))  # another machine: not sent
            bus.publish(MachineStateChanged(9002, "lathe-1", "fault", 2))
            bus.publish(EdgeChanged("edge-z", online=False))  # about no machine: sent to every page
            events: list[dict[str, Any]] = []
            for line in lines:
                if line.startswith("data: "):
                    events.append(json.loads(line.removeprefix("data: ")))
                if events and events[-1] == {"edge_id": "edge-z", "online": False, "kind": "edge"}:
                    break
    mine = [e for e in events if e.get("machine_id") in (9001, 9002)]
    assert mine == [{"machine_id": 9002, "machine": "lathe-1", "state": "fault", "since_ms": 2,
                     "kind": "machine_state"}]  # fmt: skip

"""Live pages across replicas: three real `takt server` processes share one MQTT subscription and one
PostgreSQL database; a browser's event stream (`/live/events`) on each replica must show every edge
coming online exactly once, whichever replica ingested its status message (server/ingest/fanout.py).

The broker hands each status message to one replica of the share group, so most events reach a page
only through PostgreSQL LISTEN/NOTIFY; the test checks that the messages were spread over replicas.
"""

import json
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from server.domain import edges
from shared import topics
from shared.messages import Status, encode
from tests.scaleout.replicas import ADMIN_TOKEN, start_replicas, stop_all
from tests.server.ingest.support import Broker, wait_for
from tests.support.mosquitto import Mosquitto

SITE = "demo"
EDGES = 20


class SseClient:
    """An EventSource on one replica: HTTP/1.0 (no chunked framing), `data:` lines kept as JSON."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        request = (
            f"GET /live/events HTTP/1.0\r\nHost: 127.0.0.1\r\nCookie: takt_session={ADMIN_TOKEN}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.head = b""
        self.events: list[dict[str, Any]] = []
        self.opened = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"sse-{port}", daemon=True)
        self._thread.start()

    def edges(self, online: bool = True) -> Counter[str]:
        with self._lock:
            return Counter(e["edge_id"] for e in self.events if e["kind"] == "edge" and e["online"] is online)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _read(self) -> None:
        buffer = b""
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            *blocks, buffer = (buffer + chunk).split(b"\n\n")
            for block in blocks:
                self._parse(block)

    def _parse(self, block: bytes) -> None:
        if not self.head:
            self.head = block.split(b"\r\n", 1)[0]
        for line in block.split(b"\n"):
            if line.startswith(b"retry:"):
                self.opened.set()
            elif line.startswith(b"data: "):
                with self._lock:
                    self.events.append(json.loads(line[6:]))


def birth(broker: Broker, edge: str, online: bool, ts_ms: int) -> None:
    status = Status(edge_id=edge, online=online, ts_ms=ts_ms)
    broker.publish(encode(status), topic=topics.status(SITE, edge))


@pytest.mark.faults
@pytest.mark.postgres
def test_a_page_on_any_replica_sees_what_another_replica_ingested_exactly_once(
    engine: Engine, pg_url_fresh: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    with Session(engine) as session:  # only registered edges are heard
        for edge_id in ["probe", *(f"live-{i:02d}" for i in range(EDGES))]:
            edges.register(session, edge_id, SITE, by="test", now_ms=int(time.time() * 1000))
        session.commit()
    replicas = start_replicas(3, tmp_path, pg_url_fresh, mosquitto.port)
    broker = Broker(mosquitto.port)
    pages: list[SseClient] = []
    try:
        pages = [SseClient(r.port) for r in replicas]
        for page in pages:
            assert page.opened.wait(15) and page.head.endswith(b"200 OK"), page.head
        _warm_up(broker, pages)
        for i in range(EDGES):
            birth(broker, f"live-{i:02d}", True, ts_ms=1_000 + i)
        wanted = {f"live-{i:02d}" for i in range(EDGES)}
        for n, page in enumerate(pages):
            wait_for(lambda p=page: wanted <= set(p.edges()), timeout=30, what=f"every edge on page {n + 1}")
        for i in range(EDGES):  # later than any echo or double of the births (see the module docstring)
            birth(broker, f"live-{i:02d}", False, ts_ms=2_000 + i)
        for n, page in enumerate(pages):
            wait_for(
                lambda p=page: wanted <= set(p.edges(False)), timeout=30, what=f"offline on page {n + 1}"
            )
        for page in pages:
            births = page.edges()
            assert {edge: births[edge] for edge in wanted} == dict.fromkeys(wanted, 1)
        stats = [r.stats() for r in replicas]
        spread = [s["status_messages"] for s in stats]
        assert sum(1 for count in spread if count > 0) >= 2, f"status messages per replica: {spread}"
        fanouts = [s["live_fanout"] for s in stats]  # each replica's counters, in the stats endpoint
        assert all(f["listening"] and f["received"] > 0 and f["dropped"] == 0 for f in fanouts), fanouts
    finally:
        for page in pages:
            page.close()
        broker.close()
        stop_all(replicas)
    for replica in replicas:
        log = replica.process.output()
        assert "Traceback" not in log and "live fan-out" not in log, log[-3000:]


def _warm_up(broker: Broker, pages: list[SseClient]) -> None:
    """Toggle a probe edge until every page got one of its events: each page subscribed, each replica's
    fan-out listening. Its events are not counted."""
    for n in range(60):
        birth(broker, "probe", n % 2 == 0, ts_ms=n + 1)
        time.sleep(0.5)
        if all(page.edges()["probe"] + page.edges(False)["probe"] for page in pages):
            return
    raise AssertionError("the pages never got the probe edge's events")

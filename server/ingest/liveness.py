"""Edge liveness from the edges' heartbeats (docs/ingest.md, "Edge status").

The broker's last will tells the server that an edge is gone, but late when the edge goes silent (a
network cut, a power cut behind a switch): mosquitto 2.0 sweeps keepalives only every 6 s and in whole
seconds, so the will fires keepalive x 1.5 plus up to ~7 s after the edge's last packet. Edges therefore
publish an `Alive` every keepalive / 3 s. Every replica hears all of them (outside the shared group),
straight from paho's network thread, so a busy ingestion queue cannot make an edge look silent; the
worker marks an edge offline once it has heard nothing for keepalive x 1.5, and back online (its machines
in the state their last signals give) when heartbeats of the same connection come again. The will still
ends the connection as before; what comes first wins, the other changes nothing.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, select

from server.core.db import lock_for_write
from server.core.events import EdgeChanged, Event, MachineStateChanged
from server.domain import machine_state
from server.ingest.apply import ApplyContext
from server.ingest.effects import Effects
from server.models.ingest import EdgeStatus
from shared.messages import Alive

log = logging.getLogger(__name__)
MAX_EDGES = 10_000  # heartbeats of more distinct edge ids (a hostile publisher) are not tracked


@dataclass
class Heard:
    site: str
    session: int
    keepalive_s: int
    at: float  # monotonic
    silent: bool = False  # marked offline for its silence, not heard since


class Liveness:
    """Who was heard when (fed from paho's thread), and who has been silent too long (asked by the worker)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._edges: dict[str, Heard] = {}
        self._full_logged = False

    def heard(self, site: str, alive: Alive) -> None:
        now = self._clock()
        with self._lock:
            old = self._edges.get(alive.edge_id)
            if old is None and len(self._edges) >= MAX_EDGES:
                if not self._full_logged:
                    log.warning("heartbeats of over %d edge ids: new ones are not tracked", MAX_EDGES)
                    self._full_logged = True
                return
            if old is not None and alive.session < old.session:
                return  # a late heartbeat of an earlier connection
            silent = old is not None and old.silent and alive.session == old.session
            self._edges[alive.edge_id] = Heard(site, alive.session, alive.keepalive_s, now, silent)

    def listening_again(self) -> None:
        """The server's own link is back: nobody is judged on the time it could not hear."""
        now = self._clock()
        with self._lock:
            for heard in self._edges.values():
                heard.at = max(heard.at, now)

    def changes(self) -> tuple[list[tuple[str, Heard]], list[tuple[str, Heard]]]:
        """(edges silent for keepalive x 1.5, now marked; marked edges heard again, now unmarked)."""
        now = self._clock()
        silent, back = [], []
        with self._lock:
            for edge_id, heard in self._edges.items():
                quiet = now - heard.at > heard.keepalive_s * 1.5
                if quiet and not heard.silent:
                    heard.silent = True
                    silent.append((edge_id, heard))
                elif heard.silent and not quiet:
                    heard.silent = False
                    back.append((edge_id, heard))
        return silent, back


def mark_silent(ctx: ApplyContext, edge_id: str, heard: Heard, now_ms: int) -> list[Event]:
    """The edge of `heard` is offline from `now_ms`, as if its will had come (if that connection is still
    the online one); its machines show no data from then."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        lock_for_write(session)
        row = session.exec(select(EdgeStatus).where(EdgeStatus.edge_id == edge_id).with_for_update()).first()
        if row is None or not row.online or row.session != heard.session:
            return []
        row.online, row.silent_ms, row.received_ms = False, now_ms, now_ms
        session.add(row)
        events: list[Event] = [EdgeChanged(edge_id, False)]
        timeline = machine_state.Timeline(session)
        for machine in ctx.registry.machines_of_edge(heard.site, edge_id, list(row.machines or [])):
            if timeline.transition(machine.id, "offline", now_ms) is not None:
                events.append(MachineStateChanged(machine.id, machine.code, "offline", now_ms))
        session.commit()
    ctx.metrics.add("edges_silent")
    log.warning("edge %s/%s: nothing heard for %.1f s (keepalive %d s): offline",
                heard.site, edge_id, heard.keepalive_s * 1.5, heard.keepalive_s)  # fmt: skip
    return events


def mark_back(ctx: ApplyContext, edge_id: str, heard: Heard, now_ms: int) -> list[Event]:
    """Heartbeats of the connection marked silent come again: online, and the machines the silence put
    offline are back in the state their last signals give."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        lock_for_write(session)
        row = session.exec(select(EdgeStatus).where(EdgeStatus.edge_id == edge_id).with_for_update()).first()
        if row is None or row.silent_ms is None or row.session != heard.session:
            return []  # the will came meanwhile, or a later connection's birth did the work
        silent_ms, row.online, row.silent_ms, row.received_ms = row.silent_ms, True, None, now_ms
        session.add(row)
        effects = Effects(session, edge_id, heard.site, ctx.registry, ctx.historian, ctx.options, ctx.metrics)
        for machine in ctx.registry.machines_of_edge(heard.site, edge_id, list(row.machines or [])):
            effects.resume(machine, silent_ms, now_ms)
        session.commit()
    log.info("edge %s/%s: heard again after %.1f s: online", heard.site, edge_id, (now_ms - silent_ms) / 1000)
    return [EdgeChanged(edge_id, True), *effects.events]

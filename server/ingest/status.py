"""Edge status messages (birth, will, changes): stored per edge; tags upserted; machines marked offline.

A will (online False) puts every machine of the edge in "offline" from the time it arrived (its own
ts_ms is when the edge connected, not when it died). A device reported disconnected does the same for a
machine of the same code. A birth upserts `Tag` rows for the machines the server knows.
"""

import logging
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.core.db import lock_for_write
from server.core.events import EdgeChanged, Event, MachineStateChanged
from server.domain import machine_state
from server.ingest.registry import Registry
from server.models.ingest import DataLossEpisode, EdgeStatus
from server.models.plant import Tag
from shared.messages import Status

log = logging.getLogger(__name__)


EPISODE_GAP_MS = 600_000  # drops this far apart are two episodes (two alarms), closer ones one


def handle_status(
    engine: Engine,
    registry: Registry,
    site: str,
    status: Status,
    received_ms: int,
) -> list[Event]:
    """Store the status, record outbox drops, mark machines offline; the events to publish."""
    events: list[Event] = []
    tags_changed = False
    with Session(engine, expire_on_commit=False) as session:
        lock_for_write(session)
        row = session.exec(
            select(EdgeStatus).where(EdgeStatus.edge_id == status.edge_id).with_for_update()
        ).first()
        if row is not None and is_older(status, row):
            log.info("edge %s: older status (connection %s, n %s, ts %d) ignored",
                     status.edge_id, status.session, status.n, status.ts_ms)  # fmt: skip
            return events
        was_online = row.online if row is not None else None
        before = dict(row.dropped or {}) if row is not None else {}
        _record_drops(session, site, status, before, received_ms)
        row = _store(row or EdgeStatus(edge_id=status.edge_id, site=site), site, status, received_ms)
        session.add(row)
        if status.online:
            tags_changed = _upsert_tags(session, registry, site, status)
        codes = list(row.machines or [])
        offline = [] if status.online else registry.machines_of_edge(site, status.edge_id, codes)
        offline += _disconnected(registry, site, status)
        timeline = machine_state.Timeline(session)
        for machine in offline:
            if timeline.transition(machine.id, "offline", received_ms) is not None:
                events.append(MachineStateChanged(machine.id, machine.code, "offline", received_ms))
        session.commit()
    if tags_changed:
        registry.invalidate()
    if was_online != status.online:
        log.info("edge %s/%s is %s", site, status.edge_id, "online" if status.online else "offline")
        events.append(EdgeChanged(status.edge_id, status.online))
    return events


def is_older(status: Status, row: EdgeStatus) -> bool:
    """Is `status` older than the stored one? By the edge's connection number, then within a connection
    by the status's number; an offline status (the will, a clean stop) ends its connection: nothing of that
    connection after it counts (nor while the server holds it offline for its silence: its heartbeats
    bring it back, server/ingest/liveness.py). Statuses of older edges (no connection number) compare by
    their time."""
    if status.session is None or row.session is None:
        return status.session is None and status.ts_ms < row.status_ts_ms
    if status.session != row.session:
        return status.session < row.session
    if not row.online:
        return status.online
    if not status.online:
        return False
    return (status.n or 0) < (row.status_n or 0)


def _record_drops(session: Session, site: str, status: Status, before: dict[str, int], now_ms: int) -> None:
    """An edge whose outbox reached its quota drops samples by its policy (analog first) and reports the
    totals by role. A rise joins the edge's current DataLossEpisode, or opens one (with a WARNING) when the
    last drop is older than EPISODE_GAP_MS: the gap event the boss view raises its alarm from."""
    if status.buffer is None:
        return
    rise = {role: n - before.get(role, 0) for role, n in status.buffer.dropped_samples.items()}
    rise = {role: n for role, n in rise.items() if n > 0}
    if not rise:
        return
    episode = session.exec(
        select(DataLossEpisode)
        .where(DataLossEpisode.edge_id == status.edge_id, DataLossEpisode.last_ms >= now_ms - EPISODE_GAP_MS)
        .order_by(col(DataLossEpisode.last_ms).desc())
    ).first()
    if episode is None:
        episode = DataLossEpisode(
            edge_id=status.edge_id, site=site, first_ms=now_ms, last_ms=now_ms, samples={}
        )
        log.warning("edge %s dropped samples from its full outbox: %s (totals %s; see /api/v1/edges)",
                    status.edge_id, rise, dict(status.buffer.dropped_samples))  # fmt: skip
    samples = dict(episode.samples or {})
    for role, n in rise.items():
        samples[role] = samples.get(role, 0) + n
    episode.samples, episode.last_ms = samples, now_ms
    buffer = status.buffer
    if buffer.dropped_from_ms is not None and buffer.dropped_to_ms is not None:
        # the edge's span runs since its outbox was last empty: it may reach into an earlier episode
        low, high = episode.from_ms, episode.to_ms
        episode.from_ms = buffer.dropped_from_ms if low is None else min(low, buffer.dropped_from_ms)
        episode.to_ms = buffer.dropped_to_ms if high is None else max(high, buffer.dropped_to_ms)
    session.add(episode)


def _store(row: EdgeStatus, site: str, status: Status, received_ms: int) -> EdgeStatus:
    row.site = site
    row.online = status.online
    row.status_ts_ms = status.ts_ms
    row.session, row.status_n = status.session, status.n
    if row.silent_ms is None or status.online:  # a will after a silence: offline since the silence
        row.received_ms = received_ms
    row.silent_ms = None
    row.version = status.version[:64]
    row.next_seq = status.next_seq
    row.devices = [
        {"name": d.name, "connected": d.connected, "error": d.error, "since_ms": d.since_ms}
        for d in status.devices
    ]
    if status.tags:
        row.machines = sorted({t.machine for t in status.tags})
    buffer = status.buffer
    if buffer is not None:
        row.buffer_depth, row.buffer_bytes, row.buffer_oldest_ms = (
            buffer.depth,
            buffer.bytes,
            buffer.oldest_ms,
        )
        row.dropped = dict(buffer.dropped_samples)
        row.disk_full_errors = buffer.disk_full_errors
    return row


def _disconnected(registry: Registry, site: str, status: Status) -> list[Any]:
    found = []
    for device in status.devices:
        if not device.connected:
            machine = registry.machine(site, device.name)
            if machine is not None:
                found.append(machine)
    return found


def _upsert_tags(session: Session, registry: Registry, site: str, status: Status) -> bool:
    """Insert or update `Tag` rows from the birth's tags, for machines the server knows."""
    changed = False
    machines = {t.machine: registry.machine(site, t.machine) for t in status.tags}
    ids = [m.id for m in machines.values() if m is not None]
    existing = {
        (t.machine_id, t.name): t for t in session.exec(select(Tag).where(col(Tag.machine_id).in_(ids)))
    }
    for info in status.tags:
        machine = machines.get(info.machine)
        if machine is None:
            if registry.first_unknown(site, info.machine, "birth"):
                log.warning("edge %s announces unknown machine %s/%s", status.edge_id, site, info.machine)
            continue
        tag = existing.get((machine.id, info.tag))
        values: dict[str, Any] = {
            "role": info.role,
            "width": info.width,
            "unit": info.unit,
            "writable": info.writable,
            "direction": info.direction,
            "reset_value": info.reset_value,
            "parts_per_cycle": info.parts_per_cycle,
        }
        if tag is None:
            tag = Tag(machine_id=machine.id, name=info.tag, **values)
            existing[(machine.id, info.tag)] = tag
        elif all(getattr(tag, k) == v for k, v in values.items()):
            continue
        else:
            for key, value in values.items():
                setattr(tag, key, value)
        session.add(tag)
        changed = True
    return changed

"""One Sparkplug B message's outcome written in one transaction: its values counted and stored exactly as a
Takt edge's samples are (same Effects: tag roles, counting, states, historian), devices that died marked
offline ("no data"), a seq gap recorded as a data-loss episode with its span, refusals dead-lettered."""

import logging
import re
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from server.core.db import lock_for_write
from server.core.events import Event, MachineStateChanged
from server.domain import machine_state
from server.historian.base import Historian, Point
from server.ingest.effects import Effects
from server.ingest.metrics import Metrics
from server.ingest.options import IngestOptions
from server.ingest.registry import MachineInfo, Registry
from server.ingest.sparkplug_session import NODE, Outcome
from server.models.ingest import DataLossEpisode, DeadLetter
from shared.messages import DataBatch, Sample

log = logging.getLogger(__name__)
LOSS_ROLE = "sparkplug_seq"  # the key of a Sparkplug data-loss episode's `samples`: messages missed
_NOT_ID = re.compile(r"[^a-z0-9_-]+")


def edge_id_of(group: str, node: str) -> str:
    """The Takt edge id a Sparkplug edge node's machines belong to (machine.edge_id): `spb-group-node`."""
    return f"spb-{_NOT_ID.sub('_', group.lower())}-{_NOT_ID.sub('_', node.lower())}"[:64]


@dataclass(frozen=True, slots=True)
class Target:
    engine: Engine
    registry: Registry
    historian: Historian
    options: IngestOptions
    metrics: Metrics
    site: str


@dataclass
class Written:
    points: list[Point]
    events: list[Event]


@dataclass(frozen=True, slots=True)
class Item:
    """One decoded message and what the session rules made of it."""

    topic: str
    edge_id: str
    payload: bytes
    outcome: Outcome
    received_ms: int


def write(target: Target, items: list[Item]) -> Written:
    """Messages in arrival order, in one transaction (each edge node's values through one Effects; a death
    first flushes what came before it, so "offline" follows the values sent before it)."""
    written = Written([], [])
    with Session(target.engine, expire_on_commit=False) as session:
        lock_for_write(session)
        effects: dict[str, Effects] = {}
        for item in items:
            outcome = item.outcome
            if outcome.refused:
                _dead_letter(session, item.topic, "; ".join(outcome.refused), item.payload, item.received_ms)
                target.metrics.add("sparkplug_dead_letters")
            if outcome.loss is not None:
                session.add(_loss(target.site, item.edge_id, outcome.loss, item.received_ms))
                target.metrics.add("sparkplug_losses")
                log.warning("sparkplug %s: messages missing between %d and %d (rebirth requested)",
                            item.edge_id, *outcome.loss)  # fmt: skip
            if outcome.values:
                batch = effects.get(item.edge_id) or effects.setdefault(
                    item.edge_id, _effects(session, target, item)
                )
                machine = target.registry.device_machine
                samples = [
                    Sample(machine(item.edge_id, v.device), v.metric, v.ts_ms, v.value, "good")
                    for v in outcome.values
                    if v.device
                ]
                batch.add(DataBatch(edge_id=item.edge_id, seq=item.received_ms, sent_ms=item.received_ms,
                                    samples=samples), item.received_ms)  # fmt: skip
            if outcome.dark:
                _flush(effects, written)
                written.events += _offline(session, target, item.edge_id, outcome.dark, item.received_ms)
        _flush(effects, written)
        session.commit()
    return written


def _effects(session: Session, target: Target, item: Item) -> Effects:
    return Effects(session, item.edge_id, target.site, target.registry, target.historian, target.options,
                   target.metrics)  # fmt: skip


def _flush(effects: dict[str, Effects], written: Written) -> None:
    for each in effects.values():
        each.flush()
        written.points += each.points
        written.events += each.events
    effects.clear()


def dead_letter(target: Target, topic: str, reason: str, payload: bytes, received_ms: int) -> None:
    with Session(target.engine) as session:
        _dead_letter(session, topic, reason, payload, received_ms)
        session.commit()
    target.metrics.add("sparkplug_dead_letters")
    log.warning("sparkplug message on %s dead-lettered: %s", topic[:200], reason)


def _dead_letter(session: Session, topic: str, reason: str, payload: bytes, received_ms: int) -> None:
    session.add(DeadLetter(received_ms=received_ms, topic=topic[:255], reason=reason[:1000],
                           size=len(payload), payload=payload))  # fmt: skip


def _loss(site: str, edge_id: str, span: tuple[int, int], received_ms: int) -> DataLossEpisode:
    return DataLossEpisode(edge_id=edge_id, site=site, first_ms=received_ms, last_ms=received_ms,
                           samples={LOSS_ROLE: 1}, from_ms=span[0], to_ms=span[1])  # fmt: skip


def _offline(
    session: Session, target: Target, edge_id: str, devices: list[str], received_ms: int
) -> list[Event]:
    registry, site = target.registry, target.site
    machines: list[MachineInfo] = []
    if NODE in devices:
        machines = registry.machines_of_edge(site, edge_id)
    else:
        found = (registry.machine(site, registry.device_machine(edge_id, device)) for device in devices)
        machines = [m for m in found if m is not None and m.edge_id == edge_id]
    timeline, events = machine_state.Timeline(session), list[Event]()
    for machine in machines:
        if timeline.transition(machine.id, "offline", received_ms) is not None:
            events.append(MachineStateChanged(machine.id, machine.code, "offline", received_ms))
    return events

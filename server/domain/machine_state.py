"""Machine state timeline (docs/ingest.md): run/state/fault tags -> `MachineStateSegment` rows and automatic
`DowntimeEvent(source="auto")`.

States: running, idle, setup, fault, blocked, starved, off, offline. `derive()` is pure: the `state`
tag (Takt's codes 0 idle, 1 setup, 2 running, 3 fault, 4 blocked, 5 starved, 6 off) wins when the machine
has one; otherwise fault -> "fault", running -> "running", not running -> "idle". "offline" comes from the
edge's last will, a disconnected device or stale samples.

`Timeline` works inside the caller's transaction. Segments only move forward in sample time: a sample
older than the open segment is ignored for the timeline, except that an "offline" segment (inferred from
a will, not from data) is retracted when the edge later delivers buffered samples from inside it (the edge
was cut off from the broker, not from the machine). Ingestion (server/ingest/effects.py) also brings an
offline machine back at its next good sample of any tag, in the state its last signals give.
Leaving running for fault, or for idle/setup/blocked/starved while an operation runs on the machine,
opens an auto downtime; running again closes it.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from server.models.ingest import MachineStateSegment
from server.models.production import DowntimeEvent
from shared.messages import STATE_CODES

log = logging.getLogger(__name__)

# a `state` sample carries Takt's codes (the edge maps the PLC's own values: docs/contracts.md)
STATE_ENUM = {code: name for name, code in STATE_CODES.items()}  # 0 idle ... 5 starved, 6 off
STATES = ("running", "idle", "setup", "fault", "blocked", "starved", "off", "offline")
STOPPED_WHILE_PRODUCING = frozenset({"idle", "setup", "blocked", "starved", "off"})


def derive(state: int | None, running: bool | None, fault: bool | None) -> str | None:
    """The machine state from its latest signals; None when nothing is known (or an unknown enum)."""
    if state is not None:
        return STATE_ENUM.get(state)
    if fault:
        return "fault"
    if running is None:
        return None if fault is None else "idle"
    return "running" if running else "idle"


def opens_downtime(previous: str | None, state: str, operation_running: bool) -> bool:
    if previous != "running":
        return False
    return state == "fault" or (state in STOPPED_WHILE_PRODUCING and operation_running)


@dataclass(frozen=True, slots=True)
class Transition:
    machine_id: int
    previous: str | None
    state: str
    ts_ms: int


class Timeline:
    """Open segments of machines, changed inside one session (transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._open: dict[int, MachineStateSegment | None] = {}

    def load(self, machine_ids: Iterable[int]) -> None:
        """Read the open segments of all these machines in one query (over the partial index on open
        segments): one query per transaction instead of one per machine."""
        wanted = set(machine_ids) - self._open.keys()
        if not wanted:
            return
        segments = self.session.exec(
            select(MachineStateSegment)
            .where(col(MachineStateSegment.machine_id).in_(wanted), col(MachineStateSegment.end_ms).is_(None))
            .order_by(col(MachineStateSegment.start_ms))
        ).all()
        self._open.update(dict.fromkeys(wanted))
        self._open.update((seg.machine_id, seg) for seg in segments)  # the newest wins, as in current()

    def current(self, machine_id: int) -> MachineStateSegment | None:
        if machine_id not in self._open:
            self._open[machine_id] = self.session.exec(
                select(MachineStateSegment)
                .where(
                    MachineStateSegment.machine_id == machine_id, col(MachineStateSegment.end_ms).is_(None)
                )
                .order_by(col(MachineStateSegment.start_ms).desc())
                .limit(1)
            ).first()
        return self._open[machine_id]

    def transition(self, machine_id: int, state: str, ts_ms: int) -> Transition | None:
        """Move the machine to `state` at `ts_ms`; None when nothing changed."""
        seg = self.current(machine_id)
        if seg is not None and ts_ms < seg.start_ms and seg.state == "offline" and state != "offline":
            before = self._before(seg)
            if before is not None and ts_ms < before.start_ms:
                return None  # older than the stretch the retraction would reopen: ignored
            seg = self._retract(seg, before)
        if seg is not None and (seg.state == state or ts_ms < seg.start_ms):
            return None
        previous = seg.state if seg is not None else None
        if seg is not None and ts_ms == seg.start_ms:
            seg.state = state
            self.session.add(seg)
        else:
            if seg is not None:
                seg.end_ms = ts_ms
                self.session.add(seg)
            seg = MachineStateSegment(machine_id=machine_id, state=state, start_ms=ts_ms)
            self.session.add(seg)
            self._open[machine_id] = seg
        return Transition(machine_id, previous, state, ts_ms)

    def _before(self, offline: MachineStateSegment) -> MachineStateSegment | None:
        """The segment that the offline one closed, if any."""
        return self.session.exec(
            select(MachineStateSegment)
            .where(
                MachineStateSegment.machine_id == offline.machine_id,
                MachineStateSegment.end_ms == offline.start_ms,
                col(MachineStateSegment.id) != offline.id,
            )
            .order_by(col(MachineStateSegment.start_ms).desc())
            .limit(1)
        ).first()

    def _retract(
        self, offline: MachineStateSegment, before: MachineStateSegment | None
    ) -> MachineStateSegment | None:
        """Delete an inferred offline segment and reopen the one before it."""
        self.session.delete(offline)
        if before is not None:
            before.end_ms = None
            self.session.add(before)
        self.session.flush()
        self._open[offline.machine_id] = before
        log.info(
            "machine %d: offline since %d retracted by buffered data", offline.machine_id, offline.start_ms
        )
        return before


def apply_downtime(session: Session, t: Transition, operation_running: bool) -> None:
    """Open or close the machine's automatic downtime for transition `t`."""
    if t.state == "running":
        session.execute(
            update(DowntimeEvent)
            .where(
                col(DowntimeEvent.machine_id) == t.machine_id,
                col(DowntimeEvent.end_ms).is_(None),
                col(DowntimeEvent.source) == "auto",
                col(DowntimeEvent.start_ms) <= t.ts_ms,
            )
            .values(end_ms=t.ts_ms)
        )
        return
    if not opens_downtime(t.previous, t.state, operation_running):
        return
    already = session.exec(
        select(DowntimeEvent.id).where(
            DowntimeEvent.machine_id == t.machine_id,
            col(DowntimeEvent.end_ms).is_(None),
            DowntimeEvent.source == "auto",
        )
    ).first()
    if already is None:
        session.add(DowntimeEvent(machine_id=t.machine_id, start_ms=t.ts_ms, source="auto"))

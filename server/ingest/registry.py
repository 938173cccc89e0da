"""What ingestion knows of the plant: machines by (site code, machine code), their tags' roles and
owning edges, and which edges may publish (server/domain/edges.py).

Loaded from the database and reloaded when a sample names a machine not seen missing before (a machine
created a moment ago is found at its first sample), when a known-missing one is asked for again (at
most every `min_reload_s`), or after `invalidate()` (a birth message upserted tags).
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session, select

from server.domain.counting import Counter
from server.domain.edges import State, effective_state
from server.models.ingest import EdgeRegistration, SparkplugDevice
from server.models.plant import Machine, Site, Tag
from shared.messages import COUNTER_ROLES, STATE_ROLES

log = logging.getLogger(__name__)

__all__ = ["COUNTER_ROLES", "STATE_ROLES", "MachineInfo", "Registry", "TagInfo"]
PRODUCTION_ROLES = frozenset({"total_counter", "cycle_counter"})  # a scrap count comes off their good


@dataclass(frozen=True, slots=True)
class TagInfo:
    name: str
    role: str
    width: int | None
    direction: str = "up"
    reset_value: int = 0
    parts_per_cycle: int | None = None

    @property
    def counter(self) -> Counter:
        return Counter(self.width, "down" if self.direction == "down" else "up", self.reset_value)


@dataclass(slots=True)
class MachineInfo:
    id: int
    site: str
    code: str
    edge_id: str | None
    ideal_cycle_s: float | None
    tags: dict[str, TagInfo] = field(default_factory=dict)

    @property
    def counts_total(self) -> bool:
        """True when its production counter counts good + scrap (good = total - scrap)."""
        return any(t.role in PRODUCTION_ROLES for t in self.tags.values())


class Registry:
    def __init__(self, engine: Engine, min_reload_s: float = 1.0) -> None:
        self.engine = engine
        self.min_reload_s = min_reload_s
        self._machines: dict[tuple[str, str], MachineInfo] = {}
        self._by_id: dict[int, MachineInfo] = {}
        self._site_ids: dict[str, int] = {}
        self._loaded_at = -1e9
        self._stale = True
        self._lock = threading.Lock()
        self._unknown_logged: set[tuple[str, ...]] = set()
        self._missing: set[tuple[str, str]] = set()
        self._edges: dict[str, State | None] = {}
        self._edges_refused: set[str] = set()
        self._devices: dict[tuple[str, str], int] = {}  # Sparkplug (edge id, device) -> machine id

    def invalidate(self) -> None:
        self._stale = True

    def reload(self) -> None:
        with Session(self.engine) as session:
            sites = {s.id: s.code for s in session.exec(select(Site))}
            machines: dict[tuple[str, str], MachineInfo] = {}
            by_id: dict[int, MachineInfo] = {}
            for m in session.exec(select(Machine)):
                assert m.id is not None
                info = MachineInfo(m.id, sites.get(m.site_id, ""), m.code, m.edge_id, m.ideal_cycle_s)
                machines[(info.site, m.code)] = info
                by_id[m.id] = info
            for t in session.exec(select(Tag)):
                owner = by_id.get(t.machine_id)
                if owner is not None:
                    owner.tags[t.name] = TagInfo(
                        t.name, t.role, t.width, t.direction, t.reset_value, t.parts_per_cycle
                    )
            rows = {r.edge_id: r.state for r in session.exec(select(EdgeRegistration))}
            devices = {(d.edge_id, d.device): d.machine_id for d in session.exec(select(SparkplugDevice))}
        owners = {m.edge_id for m in machines.values() if m.edge_id}
        edges = {e: effective_state(rows.get(e), e in owners) for e in set(rows) | owners}
        with self._lock:
            self._machines, self._by_id, self._edges = machines, by_id, edges
            self._devices = devices
            self._site_ids = {code: sid for sid, code in sites.items() if sid is not None}
            self._loaded_at, self._stale = time.monotonic(), False

    def _fresh(self, missed: bool, force: bool = False) -> None:
        age = time.monotonic() - self._loaded_at
        if self._stale or force or (missed and age >= self.min_reload_s):
            self.reload()

    def refresh(self, max_age_s: float) -> None:
        """Reload when older than `max_age_s`: approvals, revocations and new owners made elsewhere."""
        if time.monotonic() - self._loaded_at >= max_age_s:
            self.reload()

    def edge_state(self, edge_id: str) -> State | None:
        """approved, pending or revoked; None for an edge id nobody registered. A not-approved edge is
        looked up again at most every `min_reload_s`: an approval counts from its next message."""
        state = self._edges.get(edge_id)
        if state != "approved":
            self._fresh(missed=True, force=edge_id not in self._edges_refused)  # a new id: look now
            state = self._edges.get(edge_id)
            if state == "approved":
                self._edges_refused.discard(edge_id)
            else:
                self._edges_refused.add(edge_id)
        return state

    def machine(self, site: str, code: str) -> MachineInfo | None:
        key = (site, code)
        info = self._machines.get(key)
        if info is None or self._stale:
            self._fresh(missed=info is None, force=info is None and key not in self._missing)
            info = self._machines.get(key)
            if info is None:
                self._missing.add(key)
            else:
                self._missing.discard(key)
        return info

    def missing_tag(self, site: str, code: str, tag: str) -> TagInfo | None:
        """A tag a known machine's cached info lacks: reload once per (machine, tag), then rate-limited."""
        key = (site, f"{code}\x00{tag}")
        self._fresh(missed=True, force=key not in self._missing)
        info = self._machines.get((site, code))
        found = info.tags.get(tag) if info is not None else None
        if found is None:
            self._missing.add(key)
        return found

    def by_id(self, machine_id: int) -> MachineInfo | None:
        self._fresh(missed=machine_id not in self._by_id)
        return self._by_id.get(machine_id)

    def site_id(self, site: str) -> int | None:
        self._fresh(missed=site not in self._site_ids)
        return self._site_ids.get(site)

    def device_machine(self, edge_id: str, device: str) -> str:
        """The machine code a Sparkplug device's values go to: its mapping, else its own id."""
        self._fresh(missed=False)
        machine_id = self._devices.get((edge_id, device))
        found = self._by_id.get(machine_id) if machine_id is not None else None
        return found.code if found is not None else device

    def machines_of_edge(
        self, site: str, edge_id: str, extra_codes: list[str] | None = None
    ) -> list[MachineInfo]:
        """Machines whose `edge_id` is this edge, plus machines named in its last birth."""
        self._fresh(missed=False)
        codes = set(extra_codes or [])
        return [
            m for m in self._machines.values() if m.site == site and (m.edge_id == edge_id or m.code in codes)
        ]

    def first_unknown(self, *key: str) -> bool:
        """True the first time `key` (an unknown machine or tag) is seen: log it once."""
        if key in self._unknown_logged:
            return False
        self._unknown_logged.add(key)
        return True

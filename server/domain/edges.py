"""Edge identity: which edge ids may publish, and which machines each owns (docs/reliability.md,
"Hostile publishers"; docs/deploy.md, how the broker's identity binds to the payload's `edge_id`).

An edge is trusted when an admin said so: `takt server import-edge` (and the demo's seed) registers it
with the machines its config names; the admin page and API approve a pending edge or revoke one; an edge
id that owns a machine (`Machine.edge_id`, set by an admin) and has no registration row is approved too
(databases from before registrations, and plants set up through the machines API). Ownership is
`Machine.edge_id`: an edge publishes data, status and tag definitions for its own machines only.

An edge id nobody registered that publishes becomes "pending approval": its messages are dead-lettered
with the reason (the edge keeps them in its outbox and sends them again until the server acks, so once
approved, what it still holds is stored and counted), and the machine codes it named are kept so that
an admin can approve it with them.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from server.core.db import lock_for_write
from server.core.errors import InvalidInput, NotFound
from server.domain import audit
from server.models.ingest import EdgeRegistration, HeldSample
from server.models.plant import Machine, Site

log = logging.getLogger(__name__)

State = Literal["approved", "pending", "revoked"]
MAX_ANNOUNCED = 200  # machine codes kept of what a pending edge named


@dataclass(frozen=True)
class EdgeView:
    """An edge as the admin page and API list it."""

    edge_id: str
    site: str
    state: State
    machines: list[str]  # codes of the machines it owns
    announced: list[str]  # codes it named while not approved (for the approval)
    refused: int  # messages refused while not approved
    held_future: int  # samples held for being stamped too far ahead (server/ingest/future.py)
    first_seen_ms: int | None
    changed_ms: int | None
    changed_by: str | None


@dataclass
class Refusals:
    """Messages of not-approved edges, collected during one ingestion pass."""

    seen: dict[str, tuple[str, set[str], int]] = field(default_factory=dict)  # edge -> (site, codes, n)

    def add(self, edge_id: str, site: str, codes: Iterable[str]) -> None:
        known_site, known, count = self.seen.get(edge_id, (site, set(), 0))
        self.seen[edge_id] = (known_site, known | set(codes), count + 1)


def effective_state(row_state: str | None, owns_machines: bool) -> State | None:
    """The state that decides: the registration's, else approved when an admin gave it a machine."""
    if row_state in ("approved", "pending", "revoked"):
        return row_state  # type: ignore[return-value]
    return "approved" if owns_machines else None


def register(session: Session, edge_id: str, site: str, by: str, now_ms: int) -> EdgeRegistration:
    """Approve `edge_id` (creating its registration): import-edge, the seed, the API's register."""
    row = session.get(EdgeRegistration, edge_id)
    if row is None:
        row = EdgeRegistration(edge_id=edge_id, site=site, state="approved", changed_ms=now_ms, changed_by=by)
        session.add(row)
        audit.record(
            session, by, "Edge", edge_id, "create", {"state": [None, "approved"], "site": [None, site]}
        )
        log.info("edge %s/%s registered by %s", site, edge_id, by)
        return row
    if row.state != "approved" or row.site != site:
        audit.record(session, by, "Edge", edge_id, "update", {"state": [row.state, "approved"]})
        log.info("edge %s/%s approved by %s (was %s)", site, edge_id, by, row.state)
        row.state, row.site, row.changed_ms, row.changed_by = "approved", site, now_ms, by
        session.add(row)
    return row


def approve(
    session: Session, edge_id: str, by: str, now_ms: int, machines: list[str] | None = None
) -> EdgeView:
    """Approve an edge and give it `machines` (codes in its site; default: the unowned machines it named
    while pending). A machine another edge owns is refused (InvalidInput): revoke or rebind that one first."""
    row = session.get(EdgeRegistration, edge_id)
    owned = _owned(session, edge_id)
    if row is None and not owned:
        raise NotFound(f"edge {edge_id!r} is not known: register it, or let it connect first")
    site_code = row.site if row is not None else owned[0][1]
    site = session.exec(select(Site).where(Site.code == site_code)).first()
    codes = machines if machines is not None else list(row.announced or []) if row is not None else []
    bound = _bind(session, edge_id, site, codes, by, explicit=machines is not None)
    register(session, edge_id, site_code, by, now_ms)
    if bound:
        log.info("edge %s now owns %s", edge_id, ", ".join(bound))
    return view(session, edge_id)


def _bind(
    session: Session, edge_id: str, site: Site | None, codes: list[str], by: str, explicit: bool
) -> list[str]:
    if site is None or not codes:
        if explicit and codes:
            raise InvalidInput(f"edge {edge_id!r}: its site has no machines {codes}")
        return []
    found = {
        m.code: m
        for m in session.exec(select(Machine).where(Machine.site_id == site.id, col(Machine.code).in_(codes)))
    }
    missing = sorted(set(codes) - set(found))
    taken = sorted(c for c, m in found.items() if m.edge_id not in (None, edge_id))
    if explicit and (missing or taken):
        problems = ([f"unknown machines {missing}"] if missing else []) + (
            [f"machines owned by another edge {taken}"] if taken else []
        )
        raise InvalidInput(f"edge {edge_id!r} cannot take " + "; ".join(problems))
    bound = []
    for code, machine in sorted(found.items()):
        if machine.edge_id is None:
            audit.record(session, by, "Machine", machine.id, "update", {"edge_id": [None, edge_id]})
            machine.edge_id = edge_id
            session.add(machine)
            bound.append(code)
    return bound


def revoke(session: Session, edge_id: str, by: str, now_ms: int) -> EdgeView:
    """Refuse everything from `edge_id` from now on (it keeps its machines: approving it restores it)."""
    row = session.get(EdgeRegistration, edge_id)
    owned = _owned(session, edge_id)
    if row is None:
        if not owned:
            raise NotFound(f"edge {edge_id!r} is not known")
        row = EdgeRegistration(edge_id=edge_id, site=owned[0][1], state="revoked", changed_ms=now_ms)
    audit.record(session, by, "Edge", edge_id, "update", {"state": [row.state, "revoked"]})
    row.state, row.changed_ms, row.changed_by = "revoked", now_ms, by
    session.add(row)
    log.warning("edge %s revoked by %s: its messages are dead-lettered from now on", edge_id, by)
    return view(session, edge_id)


def note_refusals(engine: Engine, refusals: Refusals, now_ms: int) -> None:
    """Record edges whose messages were refused: a new edge id becomes pending approval."""
    if not refusals.seen:
        return
    with Session(engine) as session:
        lock_for_write(session)
        for edge_id, (site, codes, count) in sorted(refusals.seen.items()):
            row = session.exec(
                select(EdgeRegistration).where(EdgeRegistration.edge_id == edge_id).with_for_update()
            ).first()
            if row is None:
                row = EdgeRegistration(edge_id=edge_id, site=site, state="pending", first_seen_ms=now_ms)
                log.warning("edge %s/%s is not registered: pending approval, its messages are dead-lettered",
                            site, edge_id)  # fmt: skip
            row.refused = (row.refused or 0) + count
            row.last_refused_ms = now_ms
            if row.state == "pending":
                row.announced = sorted(set(row.announced or []) | codes)[:MAX_ANNOUNCED]
            session.add(row)
        session.commit()


def _owned(session: Session, edge_id: str) -> list[tuple[str, str]]:
    """(machine code, site code) of the machines `edge_id` owns."""
    rows = session.exec(
        select(Machine.code, Site.code)
        .join(Site, col(Site.id) == Machine.site_id)
        .where(Machine.edge_id == edge_id)
    ).all()
    return sorted((str(m), str(s)) for m, s in rows)


def view(session: Session, edge_id: str) -> EdgeView:
    found = [v for v in overview(session) if v.edge_id == edge_id]
    if not found:
        raise NotFound(f"edge {edge_id!r} is not known")
    return found[0]


def overview(session: Session) -> list[EdgeView]:
    """Every edge that is registered, owns a machine or was refused, by state (pending first) and id."""
    rows = {r.edge_id: r for r in session.exec(select(EdgeRegistration))}
    owned: dict[str, list[str]] = {}
    sites: dict[str, str] = {}
    for code, site, edge_id in session.exec(
        select(Machine.code, Site.code, Machine.edge_id)
        .join(Site, col(Site.id) == Machine.site_id)
        .where(col(Machine.edge_id).is_not(None))
    ).all():
        owned.setdefault(str(edge_id), []).append(str(code))
        sites.setdefault(str(edge_id), str(site))
    held = {
        str(e): int(n)
        for e, n in session.exec(
            select(HeldSample.edge_id, func.sum(HeldSample.samples)).group_by(HeldSample.edge_id)
        )
    }
    views = []
    for edge_id in sorted(set(rows) | set(owned)):
        row = rows.get(edge_id)
        state = effective_state(row.state if row else None, edge_id in owned) or "pending"
        views.append(
            EdgeView(
                edge_id=edge_id,
                site=row.site if row else sites[edge_id],
                state=state,
                machines=sorted(owned.get(edge_id, [])),
                announced=list(row.announced or []) if row else [],
                refused=row.refused if row else 0,
                held_future=held.get(edge_id, 0),
                first_seen_ms=row.first_seen_ms if row else None,
                changed_ms=row.changed_ms if row else None,
                changed_by=row.changed_by if row else None,
            )
        )
    order = {"pending": 0, "revoked": 1, "approved": 2}
    return sorted(views, key=lambda v: (order[v.state], v.edge_id))

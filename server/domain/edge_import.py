"""`takt server import-edge FILE`: machines and tags from an edge config YAML.

The site (the config's `site`) and the machines the tags name (a tag's `machine`, else its device's; never a
machine per device) are created when missing and bound to the config's `edge_id`; tags are upserted with
their role, width, unit, writability and counter meaning; the edge is registered as approved (it may publish
the machines it owns: server/domain/edges.py). Running it again changes only what differs.
"""

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from server.core.db import session_scope
from server.core.errors import InvalidInput
from server.domain import audit, edges
from server.models.plant import Machine, Site, Tag

log = logging.getLogger(__name__)
ACTOR = "import-edge"


@dataclass
class EdgeImport:
    edge_id: str
    site: str
    machines_created: int = 0
    tags_created: int = 0
    tags_updated: int = 0


def _site(session: Session, code: str) -> Site:
    site = session.exec(select(Site).where(Site.code == code)).first()
    if site is None:
        site = Site(code=code, name=code)
        session.add(site)
        session.flush()
        audit.record(session, ACTOR, "Site", site.id, "create", audit.snapshot(site))
    return site


def _machine(session: Session, site: Site, code: str, edge_id: str, result: EdgeImport) -> Machine:
    stmt = select(Machine).where(Machine.site_id == site.id, Machine.code == code)
    machine = session.exec(stmt).first()
    if machine is None:
        machine = Machine(site_id=site.id or 0, code=code, name=code, edge_id=edge_id)
        session.add(machine)
        session.flush()
        audit.record(session, ACTOR, "Machine", machine.id, "create", audit.snapshot(machine))
        result.machines_created += 1
    elif machine.edge_id != edge_id:
        audit.record(session, ACTOR, "Machine", machine.id, "update", {"edge_id": [machine.edge_id, edge_id]})
        machine.edge_id = edge_id
        session.add(machine)
    return machine


def _tag(session: Session, machine: Machine, fields: dict[str, object], result: EdgeImport) -> None:
    stmt = select(Tag).where(Tag.machine_id == machine.id, Tag.name == fields["name"])
    tag = session.exec(stmt).first()
    if tag is None:
        session.add(Tag(machine_id=machine.id or 0, **fields))  # type: ignore[arg-type]
        result.tags_created += 1
        return
    before = audit.snapshot(tag)
    tag.sqlmodel_update(fields)
    diff = audit.changes(before, audit.snapshot(tag))
    if diff:
        session.add(tag)
        audit.record(session, ACTOR, "Tag", tag.id, "update", diff)
        result.tags_updated += 1


def import_edge(engine: Engine, path: Path) -> EdgeImport:
    """Create or update the machines and tags an edge config names; InvalidInput for a bad file."""
    from edge.config import load  # the edge's own parser and checks (needs only msgspec and PyYAML)
    from edge.errors import ConfigError as EdgeConfigError

    try:
        config = load(path)
    except EdgeConfigError as err:
        raise InvalidInput(str(err)) from err
    result = EdgeImport(edge_id=config.edge_id, site=config.site)
    with session_scope(engine) as session:
        site = _site(session, config.site)
        machines: dict[str, Machine] = {}
        edges.register(session, config.edge_id, config.site, ACTOR, int(time.time() * 1000))
        for device in config.devices:
            for tag in device.tags:
                code = tag.machine or device.machine  # the edge's config check: one of them is set
                if code is None:
                    continue
                machine = machines.get(code)
                if machine is None:
                    machine = machines[code] = _machine(session, site, code, config.edge_id, result)
                fields: dict[str, object] = {"name": tag.name, "role": tag.role, "width": tag.width}
                fields |= {"unit": tag.unit, "writable": tag.writable, "direction": tag.direction}
                fields |= {"reset_value": tag.reset_value, "parts_per_cycle": tag.parts_per_cycle}
                _tag(session, machine, fields, result)
    log.info("imported edge %s: %d machines created, %d tags created, %d updated", result.edge_id,
             result.machines_created, result.tags_created, result.tags_updated)  # fmt: skip
    return result

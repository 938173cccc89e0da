"""Mapping a Sparkplug B device to a machine (docs/sparkplug.md): the machine joins the edge node's edge
id and each chosen metric becomes a tag of that name with a role, applied as a Takt edge's tag is."""

from sqlmodel import Session, select

from server.core.errors import InvalidInput, Msgid, NotFound
from server.domain import audit
from server.models.ingest import SparkplugDevice
from server.models.plant import Machine, Site, Tag
from shared.messages import Role
from shared.sparkplug.payload import DataType

ROLES: tuple[Role, ...] = (
    "counter", "scrap_counter", "total_counter", "cycle_counter", "state", "run", "fault", "analog",
)  # fmt: skip
COUNTER_ROLES = frozenset({"counter", "scrap_counter", "total_counter", "cycle_counter"})


_WIDTHS: dict[int, int] = {
    DataType.Int16: 16, DataType.UInt16: 16, DataType.Int32: 32, DataType.UInt32: 32,
    DataType.Int64: 64, DataType.UInt64: 64,
}  # fmt: skip


def width_of(datatype: int) -> int | None:
    """A counter's width in bits from its Sparkplug data type (None: not an integer type Takt wraps)."""
    return _WIDTHS.get(datatype)


def type_name(datatype: int) -> str:
    try:
        return DataType.Name(datatype)  # type: ignore[arg-type]
    except ValueError:
        return str(datatype)


def machine_codes(session: Session, site: str) -> list[str]:
    rows = session.exec(select(Machine.code).join(Site).where(Site.code == site).order_by(Machine.code))
    return list(rows.all())


def mapped_machines(session: Session) -> dict[tuple[str, str], str]:
    """(edge id, device) -> the code of the machine it was mapped to."""
    rows = session.exec(select(SparkplugDevice.edge_id, SparkplugDevice.device, Machine.code).join(Machine))
    return {(edge_id, device): code for edge_id, device, code in rows.all()}


def map_device(
    session: Session,
    actor: str,
    site: str,
    edge_id: str,
    device: str,
    machine_code: str,
    roles: dict[str, str],
    widths: dict[str, int | None],
) -> Machine:
    """Give `machine_code` to `edge_id`, remember that `device` feeds it (a gateway's names are rarely the
    machines' codes) and make or update a tag per metric with a role ("" leaves it out). `widths` are the
    counters' widths in bits from their Sparkplug data types."""
    machine = session.exec(
        select(Machine).join(Site).where(Site.code == site, Machine.code == machine_code)
    ).first()
    if machine is None or machine.id is None:
        raise NotFound("%(what)s with %(key)s not found", what=Msgid("Machine"), key=f"code={machine_code!r}")
    unknown = sorted(role for role in roles.values() if role and role not in ROLES)
    if unknown:
        raise InvalidInput("unknown tag role %(role)s", role=unknown[0])
    links = session.exec(select(SparkplugDevice).where(SparkplugDevice.machine_id == machine.id)).all()
    other = next(
        (f"{d.edge_id}/{d.device}" for d in links if (d.edge_id, d.device) != (edge_id, device)), None
    )
    if other is not None:
        raise InvalidInput("machine %(machine)s is already fed by device %(device)s",
                           machine=machine_code, device=other)  # fmt: skip
    before = machine.edge_id
    machine.edge_id = edge_id
    session.add(machine)
    link = session.get(SparkplugDevice, (edge_id, device))
    session.add(link or SparkplugDevice(edge_id=edge_id, device=device, machine_id=machine.id))
    if link is not None:
        link.machine_id = machine.id
    existing = {t.name: t for t in session.exec(select(Tag).where(Tag.machine_id == machine.id)).all()}
    for name, role in roles.items():
        if not role:
            continue
        tag = existing.get(name) or Tag(machine_id=machine.id, name=name)
        tag.role = role
        tag.width = widths.get(name) if role in COUNTER_ROLES else None
        session.add(tag)
    chosen = {name: role for name, role in roles.items() if role}
    change = {"edge_id": [before, edge_id], "device": device, **chosen}
    audit.record(session, actor, "machine", machine.id, "sparkplug_map", change)
    return machine

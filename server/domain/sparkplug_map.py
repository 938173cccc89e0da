"""Mapping a Sparkplug B device to a machine (docs/sparkplug.md): the machine joins the edge node's edge
id and each chosen metric becomes a tag of that name with a role, applied as a Takt edge's tag is."""

from sqlmodel import Session, select

from server.core.errors import InvalidInput, Msgid, NotFound
from server.domain import audit
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
    """Give `machine_code` to `edge_id` and make or update a tag per metric with a role ("" leaves it out).
    `widths` are the counters' widths in bits from their Sparkplug data types. A device feeds the machine
    whose code is its device id (values arrive by device id; there is no renaming map yet)."""
    if device != machine_code:
        raise InvalidInput("device %(device)s can only feed the machine with code %(device)s", device=device)
    machine = session.exec(
        select(Machine).join(Site).where(Site.code == site, Machine.code == machine_code)
    ).first()
    if machine is None or machine.id is None:
        raise NotFound("%(what)s with %(key)s not found", what=Msgid("Machine"), key=f"code={machine_code!r}")
    unknown = sorted(role for role in roles.values() if role and role not in ROLES)
    if unknown:
        raise InvalidInput("unknown tag role %(role)s", role=unknown[0])
    before = machine.edge_id
    machine.edge_id = edge_id
    session.add(machine)
    existing = {t.name: t for t in session.exec(select(Tag).where(Tag.machine_id == machine.id)).all()}
    for name, role in roles.items():
        if not role:
            continue
        tag = existing.get(name) or Tag(machine_id=machine.id, name=name)
        tag.role = role
        tag.width = widths.get(name) if role in COUNTER_ROLES else None
        session.add(tag)
    chosen = {name: role for name, role in roles.items() if role}
    audit.record(
        session, actor, "machine", machine.id, "sparkplug_map", {"edge_id": [before, edge_id], **chosen}
    )
    return machine

"""Bills of materials per product and version; a work order copies the latest version when it is created.

A line says which routing step consumes how much of a material per part made, in which unit, and the
scrap allowance planned on top (0.02 = 2 %): an order of N parts needs N x quantity_per_part x (1 +
scrap_allowance) of it. Setting a version replaces all of its lines at once (audit-logged).
"""

from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import Select

from server.core.errors import InvalidInput, NotFound
from server.domain import audit, crud
from server.domain.catalog import routing_of
from server.models.bom import BomIn, BomLine, BomLineIn, BomLinePublic, BomPublic, OrderComponent
from server.models.catalog import Product
from server.models.materials import Material
from server.models.production import WorkOrder


def latest_version(session: Session, product_id: int) -> int | None:
    stmt = select(func.max(BomLine.version)).where(BomLine.product_id == product_id)
    return session.exec(stmt).one()


def _materials(session: Session, codes: set[str]) -> dict[str, Material]:
    rows = session.exec(select(Material).where(col(Material.code).in_(codes))).all()
    return {m.code: m for m in rows}


def check_lines(session: Session, product: Product, lines: list[BomLineIn]) -> list[str]:
    """Problems (English, with the codes) of `lines` for `product`: unknown materials or steps, repeats."""
    materials = _materials(session, {line.material for line in lines})
    steps = {s.step_no for s in routing_of(session, product.id or 0)} or {1}
    problems: list[str] = []
    seen: set[tuple[int, str]] = set()
    for line in lines:
        if line.material not in materials:
            problems.append(f"unknown material {line.material!r}")
        if line.step_no not in steps:
            problems.append(f"product {product.code} has no routing step {line.step_no}")
        if (line.step_no, line.material) in seen:
            problems.append(f"material {line.material!r} twice at step {line.step_no}")
        seen.add((line.step_no, line.material))
    return problems


def set_bom(session: Session, actor: str, product_code: str, version: int, body: BomIn) -> BomPublic:
    """Replace `version` of the product's BOM with `body`'s lines (validated together)."""
    product = crud.get_by(session, Product, code=product_code)
    problems = check_lines(session, product, body.lines)
    if problems:
        raise InvalidInput("the BOM is not valid: %(problems)s", problems="; ".join(problems))
    replace(session, actor, product, version, body.lines)
    session.commit()
    return get_bom(session, product_code, version)


def replace(session: Session, actor: str, product: Product, version: int, lines: list[BomLineIn]) -> None:
    """Swap the version's lines for `lines` (checked by the caller), without committing."""
    old = select(BomLine).where(BomLine.product_id == product.id, BomLine.version == version)
    for row in session.exec(old).all():
        session.delete(row)
    session.flush()
    materials = _materials(session, {line.material for line in lines})
    for line in lines:
        fields = line.model_dump(exclude={"material"})
        session.add(
            BomLine(
                **fields,
                product_id=product.id or 0,
                version=version,
                material_id=materials[line.material].id or 0,
            )
        )
    diff = {"version": version, "lines": [line.model_dump() for line in lines]}
    audit.record(session, actor, "Product", product.id, "bom", diff)


def get_bom(session: Session, product_code: str, version: int | None = None) -> BomPublic:
    product = crud.get_by(session, Product, code=product_code)
    chosen = version if version is not None else latest_version(session, product.id or 0)
    if chosen is None:
        raise NotFound("product %(product)s has no BOM", product=product_code)
    stmt = (
        select(BomLine, Material.code)
        .join(Material, col(Material.id) == col(BomLine.material_id))
        .where(BomLine.product_id == product.id, BomLine.version == chosen)
        .order_by(col(BomLine.step_no), col(Material.code))
    )
    lines = [
        BomLinePublic(
            material=code, **line.model_dump(include=set(BomLinePublic.model_fields) - {"material"})
        )
        for line, code in session.exec(stmt).all()
    ]
    if not lines:
        raise NotFound(
            "product %(product)s has no BOM version %(version)s", product=product_code, version=chosen
        )
    return BomPublic(product=product_code, version=chosen, lines=lines)


def copy_to_order(session: Session, order: WorkOrder) -> None:
    """The order's components from the product's latest BOM version (none when it has no BOM)."""
    version = latest_version(session, order.product_id)
    if version is None:
        return
    stmt = select(BomLine).where(BomLine.product_id == order.product_id, BomLine.version == version)
    for line in session.exec(stmt).all():
        session.add(
            OrderComponent(
                work_order_id=order.id or 0,
                material_id=line.material_id,
                bom_version=version,
                step_no=line.step_no,
                quantity_per_part=line.quantity_per_part,
                unit=line.unit,
                scrap_allowance=line.scrap_allowance,
                with_scrap=line.with_scrap,
            )
        )
    session.flush()


def components(session: Session, order_id: int) -> list[tuple[OrderComponent, Material]]:
    return [(c, m) for c, m in session.exec(components_stmt([order_id])).all()]


def components_stmt(order_ids: list[int]) -> Select[OrderComponent, Material]:
    """The components of these orders with their materials, by order, step and material code."""
    return (
        select(OrderComponent, Material)
        .join(Material, col(Material.id) == col(OrderComponent.material_id))
        .where(col(OrderComponent.work_order_id).in_(order_ids))
        .order_by(col(OrderComponent.work_order_id), col(OrderComponent.step_no), col(Material.code))
    )


def required(component: OrderComponent, parts: int) -> float:
    """What `parts` parts need of the component, scrap allowance included."""
    return round(parts * component.quantity_per_part * (1 + component.scrap_allowance), 6)

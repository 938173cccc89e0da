"""Rows the benchmarks seed: a site with a line of machines, a product with its routing, and machines
carrying the ingest benchmark's tags."""

from collections.abc import Callable, Sequence

from sqlalchemy import Engine
from sqlmodel import Session

from server.models.catalog import Product, RoutingStep
from server.models.plant import Line, Machine, Site, Tag


def line_of_machines(s: Session, site_name: str, count: int) -> list[Machine]:
    """Site "demo" (Asia/Shanghai), line "a" and machines m0..m{count-1} on it, flushed."""
    site = Site(code="demo", name=site_name, timezone="Asia/Shanghai")
    s.add(site)
    s.flush()
    line = Line(site_id=site.id or 0, code="a", name="A")
    s.add(line)
    s.flush()
    machines = [
        Machine(site_id=site.id or 0, line_id=line.id, code=f"m{i}", name=f"M{i}") for i in range(count)
    ]
    s.add_all(machines)
    s.flush()
    return machines


def product_with_steps(s: Session, steps: Sequence[int]) -> Product:
    """Product "BRK" with one routing step per number in `steps`, flushed."""
    product = Product(code="BRK", name="Bracket")
    s.add(product)
    s.flush()
    s.add_all([RoutingStep(product_id=product.id or 0, step_no=n, name=f"step {n}") for n in steps])
    return product


def tagged_machines(
    engine: Engine,
    site_code: str,
    count: int,
    tags: Sequence[tuple[str, str, int | None]],
    edge_of: Callable[[int], str | None] = lambda _m: None,
) -> None:
    """Site `site_code` with machines m0..m{count-1} (bound to `edge_of(i)`), each with `tags`
    (name, role, width); committed."""
    with Session(engine) as session:
        site = Site(code=site_code, name="Bench")
        session.add(site)
        session.flush()
        assert site.id is not None
        for m in range(count):
            machine = Machine(site_id=site.id, code=f"m{m}", name=f"m{m}", edge_id=edge_of(m))
            session.add(machine)
            session.flush()
            assert machine.id is not None
            for name, role, width in tags:
                session.add(Tag(machine_id=machine.id, name=name, role=role, width=width))
        session.commit()

"""Products with their routings (created and replaced together)."""

from sqlmodel import Session, col, select

from server.core.errors import InvalidInput
from server.domain import audit, crud
from server.models.catalog import (
    Product,
    ProductCreate,
    ProductPublic,
    ProductUpdate,
    RoutingStep,
    RoutingStepCreate,
    RoutingStepPublic,
)


def routing_of(session: Session, product_id: int) -> list[RoutingStep]:
    stmt = select(RoutingStep).where(RoutingStep.product_id == product_id).order_by(col(RoutingStep.step_no))
    return list(session.exec(stmt).all())


def public(session: Session, product: Product) -> ProductPublic:
    assert product.id is not None
    steps = [RoutingStepPublic.model_validate(s) for s in routing_of(session, product.id)]
    return ProductPublic.model_validate(product, update={"routing": steps})


def _check_steps(steps: list[RoutingStepCreate]) -> None:
    numbers = [s.step_no for s in steps]
    if len(set(numbers)) != len(numbers):
        raise InvalidInput("routing step numbers must be unique")


def create_product(session: Session, actor: str, body: ProductCreate) -> Product:
    _check_steps(body.routing)
    product = crud.create(session, actor, Product.model_validate(body))
    _replace_routing(session, actor, product, body.routing)
    session.commit()
    return product


def update_product(session: Session, actor: str, product: Product, body: ProductUpdate) -> Product:
    if body.routing is not None:
        _check_steps(body.routing)
        _replace_routing(session, actor, product, body.routing)
    patch = ProductUpdate.model_validate(body.model_dump(exclude_unset=True, exclude={"routing"}))
    return crud.update(session, actor, product, patch)


def _replace_routing(session: Session, actor: str, product: Product, steps: list[RoutingStepCreate]) -> None:
    assert product.id is not None
    for old in routing_of(session, product.id):
        session.delete(old)
    session.flush()
    for step in steps:
        session.add(RoutingStep.model_validate(step, update={"product_id": product.id}))
    diff = {"routing": [s.model_dump() for s in steps]}
    audit.record(session, actor, "Product", product.id, "routing", diff)

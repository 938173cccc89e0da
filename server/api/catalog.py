"""Customers, products (with routings) and reason codes."""

from fastapi import APIRouter, status
from sqlmodel import col, select

from server.api.deps import Admin, AnyRole, Page, PagingDep, Planner, make_page, paged
from server.core.db import SessionDep
from server.domain import catalog, crud
from server.models.catalog import (
    Customer,
    CustomerCreate,
    CustomerPublic,
    CustomerUpdate,
    Product,
    ProductCreate,
    ProductPublic,
    ProductUpdate,
    ReasonCode,
    ReasonCodeCreate,
    ReasonCodePublic,
    ReasonCodeUpdate,
)

router = APIRouter(tags=["catalog"])


@router.post("/customers", response_model=CustomerPublic, status_code=status.HTTP_201_CREATED)
def create_customer(body: CustomerCreate, session: SessionDep, who: Planner) -> Customer:
    return crud.create(session, who.username, Customer.model_validate(body))


@router.get("/customers", response_model=Page[CustomerPublic])
def list_customers(
    session: SessionDep, _: AnyRole, paging: PagingDep, q: str | None = None
) -> Page[Customer]:
    stmt = select(Customer).order_by(col(Customer.code))
    if q:
        stmt = stmt.where(crud.search(q, Customer.code, Customer.name))
    return paged(session, stmt, paging)


@router.get("/customers/{code}", response_model=CustomerPublic)
def get_customer(code: str, session: SessionDep, _: AnyRole) -> Customer:
    return crud.get_by(session, Customer, code=code)


@router.patch("/customers/{code}", response_model=CustomerPublic)
def update_customer(code: str, body: CustomerUpdate, session: SessionDep, who: Planner) -> Customer:
    return crud.update(session, who.username, crud.get_by(session, Customer, code=code), body)


@router.post("/products", response_model=ProductPublic, status_code=status.HTTP_201_CREATED)
def create_product(body: ProductCreate, session: SessionDep, who: Planner) -> ProductPublic:
    return catalog.public(session, catalog.create_product(session, who.username, body))


@router.get("/products", response_model=Page[ProductPublic])
def list_products(
    session: SessionDep, _: AnyRole, paging: PagingDep, q: str | None = None
) -> Page[ProductPublic]:
    stmt = select(Product).order_by(col(Product.code))
    if q:
        stmt = stmt.where(crud.search(q, Product.code, Product.name))
    rows, total = crud.page(session, stmt, paging.limit, paging.offset)
    return make_page([catalog.public(session, p) for p in rows], total, paging)


@router.get("/products/{code}", response_model=ProductPublic)
def get_product(code: str, session: SessionDep, _: AnyRole) -> ProductPublic:
    return catalog.public(session, crud.get_by(session, Product, code=code))


@router.patch("/products/{code}", response_model=ProductPublic)
def update_product(code: str, body: ProductUpdate, session: SessionDep, who: Planner) -> ProductPublic:
    product = crud.get_by(session, Product, code=code)
    return catalog.public(session, catalog.update_product(session, who.username, product, body))


@router.post("/reason-codes", response_model=ReasonCodePublic, status_code=status.HTTP_201_CREATED)
def create_reason(body: ReasonCodeCreate, session: SessionDep, who: Admin) -> ReasonCode:
    return crud.create(session, who.username, ReasonCode.model_validate(body))


@router.get("/reason-codes", response_model=Page[ReasonCodePublic])
def list_reasons(
    session: SessionDep, _: AnyRole, paging: PagingDep, kind: str | None = None, active: bool | None = None
) -> Page[ReasonCode]:
    stmt = select(ReasonCode).order_by(col(ReasonCode.kind), col(ReasonCode.code))
    if kind is not None:
        stmt = stmt.where(ReasonCode.kind == kind)
    if active is not None:
        stmt = stmt.where(ReasonCode.active == active)
    return paged(session, stmt, paging)


@router.patch("/reason-codes/{kind}/{code}", response_model=ReasonCodePublic)
def update_reason(
    kind: str, code: str, body: ReasonCodeUpdate, session: SessionDep, who: Admin
) -> ReasonCode:
    return crud.update(session, who.username, crud.get_by(session, ReasonCode, kind=kind, code=code), body)

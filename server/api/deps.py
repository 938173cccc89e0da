"""Dependencies shared by the routers, as Annotated aliases: the caller, role checks, paging, the app's
services (`server.core.services`: settings, engine, historian)."""

from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlmodel import Session, SQLModel
from sqlmodel.sql.expression import SelectOfScalar

from server.core.db import SessionDep
from server.core.services import ServicesDep
from server.core.services import SettingsDep as SettingsDep  # re-exported: the routers import it from here
from server.domain import crud, signin
from server.domain.principals import Principal, authenticate
from server.historian.base import Historian

T = TypeVar("T")
Row = TypeVar("Row", bound=SQLModel)
bearer = HTTPBearer(auto_error=False, description="API token, operator session token or TAKT_ADMIN_TOKEN")


def services_historian(services: ServicesDep) -> Historian:
    return services.historian


HistorianDep = Annotated[Historian, Depends(services_historian)]


def current_principal(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    try:
        return authenticate(session, settings, credentials.credentials if credentials else None)
    finally:
        # End the lookup's transaction: on SQLite a writing request's transaction holds the write
        # lock, which the handler's own transactions (and the idempotency row's) must not wait behind.
        session.rollback()


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets admin and `roles` through and answers 403 to everyone else."""

    def check(principal: CurrentPrincipal) -> Principal:
        principal.require(*roles)
        return principal

    return check


AnyRole = CurrentPrincipal
Admin = Annotated[Principal, Depends(require())]
Planner = Annotated[Principal, Depends(require("planner"))]
Supervisor = Annotated[Principal, Depends(require("planner", "supervisor"))]
ShopFloor = Annotated[Principal, Depends(require("planner", "supervisor", "operator"))]
Inspector = Annotated[Principal, Depends(require("inspector"))]
QualityLead = Annotated[Principal, Depends(require("inspector", "supervisor"))]
Sharer = Annotated[Principal, Depends(require("planner", "supervisor"))]
Payroll = Annotated[Principal, Depends(require("supervisor", "payroll"))]  # wage sheets, rates, closing


class Paging(BaseModel):
    limit: int
    offset: int


MAX_OFFSET = 2**31 - 1  # past any table here; larger values overflow the databases' integers


def paging(
    limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0
) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def make_page(items: Sequence[T], total: int, paging: Paging) -> Page[T]:
    return Page[T](items=list(items), total=total, limit=paging.limit, offset=paging.offset)


def paged(session: Session, stmt: SelectOfScalar[Row], paging: Paging) -> Page[Row]:
    """The page of `stmt`'s rows that `paging` asks for, with the total count."""
    rows, total = crud.page(session, stmt, paging.limit, paging.offset)
    return make_page(rows, total, paging)


def client_address(request: Request) -> str:
    """The caller's address as the server sees it (a reverse proxy's X-Forwarded-For only when trusted:
    TAKT_FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


def signin_source(request: Request, services: ServicesDep) -> str:
    """The caller's address, once it is within the per-address sign-in rate (else Locked: 429)."""
    source = client_address(request)
    signin.admit(services.signin_limiter, source)
    return source


SigninSource = Annotated[str, Depends(signin_source)]

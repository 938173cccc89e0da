"""Work orders: CRUD, status actions, progress and work reports (with Idempotency-Key)."""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, status
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.api.deps import AnyRole, Page, PagingDep, Planner, SettingsDep, ShopFloor, Supervisor, make_page
from server.api.idempotent import IdempotencyKey, once_or_replay
from server.core.db import SessionDep
from server.core.services import EngineDep
from server.domain import crud, idempotency, operations, progress, reopen_window, station_scope, work_reports
from server.domain import workorders as wo
from server.domain.principals import Principal
from server.models.orders import (
    CompleteAction,
    OperationAction,
    PauseAction,
    ReopenAction,
    ShortCompletion,
    WorkOrderCreate,
    WorkOrderProgress,
    WorkOrderPublic,
    WorkOrderSummary,
    WorkOrderUpdate,
    WorkReportCreate,
    WorkReportPublic,
)
from server.models.plant import Site
from server.models.production import WorkOrder
from server.models.types import now_ms

router = APIRouter(prefix="/work-orders", tags=["work orders"])
A = TypeVar("A", bound=OperationAction)
StatusFilter = Annotated[str | None, Query(max_length=200)]
TextFilter = Annotated[str | None, Query(max_length=200)]


@router.post("", response_model=WorkOrderPublic, status_code=status.HTTP_201_CREATED)
def create_work_order(body: WorkOrderCreate, session: SessionDep, who: Planner) -> WorkOrderPublic:
    return wo.public(session, wo.create(session, who.username, body))


@router.get("", response_model=Page[WorkOrderSummary])
def list_work_orders(
    session: SessionDep,
    _: AnyRole,
    paging: PagingDep,
    status: StatusFilter = None,
    customer: TextFilter = None,
    q: TextFilter = None,
) -> Page[WorkOrderSummary]:
    rows, total = crud.page(session, wo.list_query(status, customer, q), paging.limit, paging.offset)
    return make_page(wo.summaries(session, rows), total, paging)


@router.get("/{number}", response_model=WorkOrderPublic)
def get_work_order(number: str, session: SessionDep, _: AnyRole) -> WorkOrderPublic:
    return wo.public(session, wo.get(session, number))


@router.patch("/{number}", response_model=WorkOrderPublic)
def update_work_order(
    number: str, body: WorkOrderUpdate, session: SessionDep, who: Planner
) -> WorkOrderPublic:
    return wo.public(session, wo.update(session, who.username, number, body))


@router.post("/{number}/release", response_model=WorkOrderPublic)
def release(number: str, session: SessionDep, who: Planner) -> WorkOrderPublic:
    return wo.public(session, operations.release(session, who.username, number))


@router.post("/{number}/start", response_model=WorkOrderPublic)
def start(
    number: str, session: SessionDep, who: ShopFloor, body: OperationAction | None = None
) -> WorkOrderPublic:
    return _at_station(session, who, number, body or OperationAction(), operations.start)


@router.post("/{number}/pause", response_model=WorkOrderPublic)
def pause(
    number: str, session: SessionDep, who: ShopFloor, body: PauseAction | None = None
) -> WorkOrderPublic:
    """Pause the running operation; `reason` (optional) is a downtime reason code, kept with the pause."""
    return _at_station(session, who, number, body or PauseAction(), operations.pause)


@router.post("/{number}/resume", response_model=WorkOrderPublic)
def resume(
    number: str, session: SessionDep, who: ShopFloor, body: OperationAction | None = None
) -> WorkOrderPublic:
    return _at_station(session, who, number, body or OperationAction(), operations.resume)


@router.post(
    "/{number}/complete",
    response_model=WorkOrderPublic,
    responses={409: {"model": ShortCompletion,
                     "description": "below the planned quantity without confirm_short (`short`: the "
                                    "numbers), or the order is not started"}},
)  # fmt: skip
def complete(
    number: str, session: SessionDep, who: ShopFloor, body: CompleteAction | None = None
) -> WorkOrderPublic:
    """Complete the operation `step_no` (or, without one, every operation and the order). Fewer good parts
    than planned: 409 with the numbers unless `confirm_short` is true."""
    return _at_station(session, who, number, body or CompleteAction(), operations.complete)


@router.post("/{number}/reopen", response_model=WorkOrderPublic,
             responses={409: {"description": "not done, or completed before the current shift"}})  # fmt: skip
def reopen(
    number: str, body: ReopenAction, session: SessionDep, settings: SettingsDep, who: Supervisor
) -> WorkOrderPublic:
    """Reopen completed operation `step_no` (and the order, if it was completed): supervisor, planner or
    admin, within the current shift (or `TAKT_REOPEN_HOURS` without a shift calendar). Audit-logged."""
    since = reopen_window.reopen_since(session, settings.site, settings.reopen_hours, now_ms())
    return wo.public(session, operations.reopen(session, who.username, number, body.step_no, since))


@router.post("/{number}/close", response_model=WorkOrderPublic)
def close(number: str, session: SessionDep, who: Planner) -> WorkOrderPublic:
    return wo.public(session, operations.close(session, who.username, number))


@router.post("/{number}/cancel", response_model=WorkOrderPublic)
def cancel(number: str, session: SessionDep, who: Planner) -> WorkOrderPublic:
    return wo.public(session, operations.cancel(session, who.username, number))


@router.get("/{number}/progress", response_model=WorkOrderProgress)
def get_progress(number: str, session: SessionDep, settings: SettingsDep, _: AnyRole) -> WorkOrderProgress:
    site = session.exec(select(Site).where(Site.code == settings.site)).first()
    return progress.progress(session, wo.get(session, number), site.timezone if site else "UTC")


@router.post(
    "/{number}/reports",
    response_model=WorkReportPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "over quantity, or the same Idempotency-Key in flight"},
               422: {"description": "invalid, or the Idempotency-Key reused with another body"}},
)  # fmt: skip
def create_report(
    number: str,
    body: WorkReportCreate,
    engine: EngineDep,
    session: SessionDep,
    settings: SettingsDep,
    who: ShopFloor,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    tolerance = settings.report_tolerance
    bound = station_scope.bind_step(session, who, number, body)
    if idempotency_key is None:
        return work_reports.create_report(session, who, number, bound, tolerance)
    return _idempotent_report(engine, session, who, number, (body, bound), tolerance, idempotency_key)


def _idempotent_report(
    engine: Engine, session: Session, who: Principal, number: str,
    sent_and_bound: tuple[WorkReportCreate, WorkReportCreate], tolerance: float, key: str,
) -> Any:  # fmt: skip
    """The report once per key. The key's request is the body as sent, not as bound to the caller's step: a
    retry after the station's step changed is still the same request (and gets the first answer)."""
    sent, body = sent_and_bound
    payload = {"number": number, "body": sent.model_dump(mode="json")}

    def work(store: idempotency.Store) -> WorkReportPublic:
        def stored(tx: Session, result: WorkReportPublic) -> None:
            store(tx, status.HTTP_201_CREATED, result.model_dump(mode="json"))

        return work_reports.create_report(
            session, who, number, body, tolerance, key=key, before_commit=stored
        )

    return once_or_replay(engine, session, f"work-report:{number}", key, payload, work)


def _at_station(
    session: Session, who: Principal, number: str, action: A, op: Callable[[Session, str, str, A], WorkOrder]
) -> WorkOrderPublic:
    """Run the operation `op` on the step the caller's station may act on, and answer the order."""
    bound = station_scope.bind_step(session, who, number, action)
    return wo.public(session, op(session, who.username, number, bound))

"""Inspection plans, inspection records (checked against limits) and nonconformances."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlmodel import Field, Session, SQLModel, col, select

from server.api.deps import AnyRole, Inspector, Page, PagingDep, QualityLead, paged
from server.api.idempotent import IdempotencyKey, once_or_replay
from server.core.db import SessionDep
from server.core.services import EngineDep
from server.domain import crud, idempotency, quality
from server.models.catalog import Product
from server.models.production import WorkOrder
from server.models.quality import (
    CharacteristicPublic,
    InspectionPlan,
    InspectionPlanCreate,
    InspectionPlanPublic,
    InspectionRecord,
    Nonconformance,
    NonconformanceCreate,
    NonconformancePublic,
)

router = APIRouter(tags=["quality"])


class ValueOut(SQLModel):
    characteristic_id: int
    sample_no: int
    value: float | None
    attribute_ok: bool | None
    passed: bool


class InspectionOut(SQLModel):
    id: int
    plan_id: int
    work_order_id: int
    operation_id: int | None
    lot_code: str | None
    inspector: str
    passed: bool
    notes: str | None
    created_at: datetime
    values: list[ValueOut] = []


class DispositionIn(SQLModel):
    disposition: str = Field(max_length=16)
    note: str | None = Field(default=None, max_length=2000)


def _plan_out(session: SessionDep, plan: InspectionPlan) -> InspectionPlanPublic:
    chars = [CharacteristicPublic.model_validate(c) for c in quality.characteristics(session, plan.id or 0)]
    return InspectionPlanPublic.model_validate(plan, update={"characteristics": chars})


def _record_out(session: SessionDep, record: InspectionRecord) -> InspectionOut:
    values = [ValueOut.model_validate(v) for v in quality.values_of(session, record.id or 0)]
    return InspectionOut.model_validate(record, update={"values": values})


@router.post("/inspection-plans", response_model=InspectionPlanPublic, status_code=status.HTTP_201_CREATED)
def create_plan(body: InspectionPlanCreate, session: SessionDep, who: QualityLead) -> InspectionPlanPublic:
    return _plan_out(session, quality.create_plan(session, who.username, body))


@router.get("/inspection-plans", response_model=list[InspectionPlanPublic])
def list_plans(
    session: SessionDep, _: AnyRole, product: Annotated[str | None, Query(max_length=200)] = None
) -> list[InspectionPlanPublic]:
    stmt = select(InspectionPlan).order_by(col(InspectionPlan.id))
    if product is not None:
        stmt = stmt.join(Product, col(Product.id) == col(InspectionPlan.product_id)).where(
            Product.code == product
        )
    return [_plan_out(session, p) for p in session.exec(stmt).all()]


@router.post(
    "/inspections",
    response_model=InspectionOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the same Idempotency-Key in flight"},
               422: {"description": "invalid, or the Idempotency-Key reused with another body"}},
)  # fmt: skip
def record_inspection(
    body: quality.InspectionIn,
    engine: EngineDep,
    session: SessionDep,
    who: Inspector,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Record an inspection; with an Idempotency-Key a retry after a lost answer records it once."""
    if idempotency_key is None:
        return _record_out(session, quality.record_inspection(session, who.username, body))

    def work(store: idempotency.Store) -> InspectionOut:
        def before_commit(tx: Session, record: InspectionRecord) -> None:
            store(tx, status.HTTP_201_CREATED, _record_out(tx, record).model_dump(mode="json"))

        return _record_out(session, quality.record_inspection(session, who.username, body, before_commit))

    scope = f"inspection:{body.work_order}"
    payload = body.model_dump(mode="json")
    return once_or_replay(engine, session, scope, idempotency_key, payload, work)


@router.get("/inspections", response_model=list[InspectionOut])
def list_inspections(
    session: SessionDep, _: AnyRole, work_order: Annotated[str, Query(max_length=200)]
) -> list[InspectionOut]:
    stmt = select(InspectionRecord).join(WorkOrder, col(WorkOrder.id) == col(InspectionRecord.work_order_id))
    stmt = stmt.where(WorkOrder.number == work_order)
    return [_record_out(session, r) for r in session.exec(stmt.order_by(col(InspectionRecord.id))).all()]


@router.post("/nonconformances", response_model=NonconformancePublic, status_code=status.HTTP_201_CREATED)
def open_nc(body: NonconformanceCreate, session: SessionDep, who: QualityLead) -> Nonconformance:
    return crud.create(
        session, who.username, Nonconformance.model_validate(body, update={"opened_by": who.username})
    )


@router.get("/nonconformances", response_model=Page[NonconformancePublic])
def list_ncs(
    session: SessionDep,
    _: AnyRole,
    paging: PagingDep,
    status: Annotated[str | None, Query(max_length=200)] = None,
    work_order: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[Nonconformance]:
    stmt = select(Nonconformance).order_by(col(Nonconformance.id))
    if status is not None:
        stmt = stmt.where(Nonconformance.status == status)
    if work_order is not None:
        stmt = stmt.join(WorkOrder, col(WorkOrder.id) == col(Nonconformance.work_order_id))
        stmt = stmt.where(WorkOrder.number == work_order)
    return paged(session, stmt, paging)


@router.post("/nonconformances/{nc_id}/disposition", response_model=NonconformancePublic)
def disposition(nc_id: int, body: DispositionIn, session: SessionDep, who: QualityLead) -> Nonconformance:
    nc = crud.get_by(session, Nonconformance, id=nc_id)
    return quality.advance_nc(session, who.username, nc, "dispositioned", body.disposition, body.note)


@router.post("/nonconformances/{nc_id}/close", response_model=NonconformancePublic)
def close_nc(nc_id: int, session: SessionDep, who: QualityLead) -> Nonconformance:
    return quality.advance_nc(session, who.username, crud.get_by(session, Nonconformance, id=nc_id), "closed")

"""Work orders, their operations and runs, work reports, downtime events.

Machine times are epoch milliseconds (BigInteger); business times are aware UTC datetimes.
"""

from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from server.models.types import UTCDateTime, utcnow

WorkOrderStatus = Literal["draft", "released", "in_progress", "paused", "completed", "closed", "cancelled"]
OperationStatus = Literal["pending", "running", "paused", "done"]
CountSource = Literal["machine", "manual"]


def _dt_column(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class WorkOrderBase(SQLModel):
    number: str = Field(max_length=40, unique=True, index=True)
    quantity: int = Field(gt=0)
    due_date: date | None = None
    priority: int = Field(default=0)
    count_source: str = Field(default="machine", max_length=16)  # CountSource
    notes: str | None = Field(default=None, max_length=2000)


class WorkOrder(WorkOrderBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    status: str = Field(default="draft", max_length=16, index=True)  # WorkOrderStatus
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    released_at: datetime | None = _dt_column()
    completed_at: datetime | None = _dt_column()


class Operation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("work_order_id", "step_no", name="uq_operation_order_step"),)
    id: int | None = Field(default=None, primary_key=True)
    work_order_id: int = Field(foreign_key="workorder.id", index=True)
    step_no: int
    name: str = Field(max_length=200)
    station_id: int | None = Field(default=None, foreign_key="station.id")
    machine_kind: str | None = Field(default=None, max_length=64)
    machine_id: int | None = Field(default=None, foreign_key="machine.id", index=True)
    planned_qty: int
    good: int = 0  # manual work reports
    scrap: int = 0
    machine_good: int = 0  # machine counts (ingestion)
    machine_scrap: int = 0
    status: str = Field(default="pending", max_length=16, index=True)  # OperationStatus
    started_ms: int | None = Field(default=None, sa_type=BigInteger)
    ended_ms: int | None = Field(default=None, sa_type=BigInteger)
    ideal_cycle_s: float | None = None


class OperationRun(SQLModel, table=True):
    """One row each time an operation starts or resumes on a machine; closed on pause/complete."""

    __table_args__ = (Index("ix_operationrun_machine_start", "machine_id", "start_ms"),)
    id: int | None = Field(default=None, primary_key=True)
    operation_id: int = Field(foreign_key="operation.id", index=True)
    machine_id: int = Field(foreign_key="machine.id")
    start_ms: int = Field(sa_type=BigInteger)
    end_ms: int | None = Field(default=None, sa_type=BigInteger)
    pause_reason: str | None = Field(default=None, max_length=64)  # why the operator paused (a downtime code)


class WorkReport(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    work_order_id: int = Field(foreign_key="workorder.id", index=True)
    operation_id: int = Field(foreign_key="operation.id", index=True)
    operator_id: int | None = Field(default=None, foreign_key="user.id")
    good: int = 0
    scrap: int = 0
    scrap_reason: str | None = Field(default=None, max_length=64)
    source: str = Field(default="manual", max_length=16)  # CountSource
    idempotency_key: str | None = Field(default=None, max_length=200)
    ts_ms: int = Field(sa_type=BigInteger, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DowntimeEvent(SQLModel, table=True):
    __table_args__ = (
        Index("ix_downtime_machine_start", "machine_id", "start_ms"),
        Index("ix_downtime_end", "end_ms"),  # a window's stops: those ending after its start, or open
        Index(  # the stops still without a reason: every tablet asks for its machine's newest one
            "ix_downtime_unclassified",
            "machine_id",
            "start_ms",
            sqlite_where=text("reason_code IS NULL"),
            postgresql_where=text("reason_code IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    machine_id: int = Field(foreign_key="machine.id")
    start_ms: int = Field(sa_type=BigInteger)
    end_ms: int | None = Field(default=None, sa_type=BigInteger)
    reason_code: str | None = Field(default=None, max_length=64)
    classified_by: str | None = Field(default=None, max_length=100)
    classified_ms: int | None = Field(default=None, sa_type=BigInteger)
    source: str = Field(default="auto", max_length=16)  # "auto" | "manual"


class IdempotencyRecord(SQLModel, table=True):
    """The first row of a request with an Idempotency-Key, inserted (and committed) before the work."""

    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)
    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=200)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    state: str = Field(default="in_flight", max_length=16)  # in_flight | done
    response_status: int | None = None
    response_body: Any = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

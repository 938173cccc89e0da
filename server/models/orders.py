"""API shapes of work orders, operations, work reports and progress (no tables here)."""

from datetime import date, datetime

from pydantic import model_validator
from sqlmodel import Field, SQLModel

from server.models.production import CountSource

NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class WorkOrderCreate(SQLModel):
    # letters, digits, "-", "_", "." (a path segment of the order's URLs: no "/"); sqlmodel ignores `regex=`
    number: str = Field(min_length=1, max_length=40, schema_extra={"pattern": NUMBER_PATTERN})
    product: str = Field(min_length=1, max_length=64, description="product code")
    customer: str | None = Field(default=None, max_length=64, description="customer code")
    quantity: int = Field(gt=0, le=100_000_000)
    due_date: date | None = None
    priority: int = Field(default=0, ge=0, le=1000)
    count_source: CountSource = "machine"
    notes: str | None = Field(default=None, max_length=2000)


class WorkOrderUpdate(SQLModel):
    customer: str | None = None
    quantity: int | None = Field(default=None, gt=0, le=100_000_000)
    due_date: date | None = None
    priority: int | None = Field(default=None, ge=0, le=1000)
    count_source: CountSource | None = None
    notes: str | None = Field(default=None, max_length=2000)


class OperationPublic(SQLModel):
    id: int
    step_no: int
    name: str
    status: str
    station_id: int | None
    machine_kind: str | None
    machine_id: int | None
    planned_qty: int
    good: int
    scrap: int
    machine_good: int
    machine_scrap: int
    started_ms: int | None
    ended_ms: int | None
    ideal_cycle_s: float | None


class WorkOrderSummary(SQLModel):
    id: int
    number: str
    product: str
    customer: str | None
    quantity: int
    due_date: date | None
    priority: int
    status: str
    count_source: str
    notes: str | None
    created_at: datetime
    updated_at: datetime
    released_at: datetime | None
    completed_at: datetime | None


class WorkOrderPublic(WorkOrderSummary):
    operations: list[OperationPublic] = []


class OperationAction(SQLModel):
    """Which operation an action applies to (default: the one the action makes sense for)."""

    step_no: int | None = None
    machine: str | None = Field(default=None, description="machine code, to start or resume on")


class PauseAction(OperationAction):
    """Pause the running operation, saying why if the operator chose to (a downtime reason code)."""

    reason: str | None = Field(default=None, max_length=64, description="downtime reason code, optional")


class CompleteAction(OperationAction):
    """Complete an operation; below its planned quantity only with `confirm_short` (else 409, `short`)."""

    confirm_short: bool = Field(
        default=False, description="complete even though fewer good parts than planned were made"
    )


class ShortStep(SQLModel):
    step_no: int
    made: int = Field(description="good parts made, from the order's count source")
    target: int = Field(description="the operation's planned quantity")


class ShortCompletion(SQLModel):
    """409 of a complete below target: the numbers to confirm; send again with `confirm_short: true`."""

    detail: str
    message: str
    short: list[ShortStep]


class ReopenAction(SQLModel):
    """Which completed operation to reopen."""

    step_no: int = Field(ge=0, le=1_000_000)


class WorkReportCreate(SQLModel):
    step_no: int | None = None
    good: int = Field(default=0, ge=0, le=1_000_000)
    scrap: int = Field(default=0, ge=0, le=1_000_000)
    scrap_reason: str | None = Field(default=None, max_length=64)
    ts_ms: int | None = Field(default=None, ge=0, description="when the parts were made (epoch ms)")

    @model_validator(mode="after")
    def _something(self) -> "WorkReportCreate":
        if self.good == 0 and self.scrap == 0:
            raise ValueError("a report needs good or scrap parts")
        return self


class WorkReportPublic(SQLModel):
    id: int
    work_order: str
    step_no: int
    good: int
    scrap: int
    scrap_reason: str | None
    source: str
    operator: str | None
    ts_ms: int
    operation_good: int
    operation_scrap: int


class CountPair(SQLModel):
    good: int
    scrap: int


class OperationProgress(SQLModel):
    step_no: int
    name: str
    status: str
    machine: str | None
    planned_qty: int
    manual: CountPair
    machine_counts: CountPair
    source: str
    good: int
    scrap: int
    percent: float
    rate_per_hour: float | None


class WorkOrderProgress(SQLModel):
    number: str
    status: str
    quantity: int
    source: str
    good: int
    scrap: int
    percent: float
    rate_per_hour: float | None
    eta: datetime | None
    due_date: date | None
    late: bool
    operations: list[OperationProgress]

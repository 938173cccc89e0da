"""Quality: inspection plans with characteristics, inspection records with values, nonconformances."""

from datetime import datetime
from typing import Literal

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from server.models.types import UTCDateTime, utcnow

Frequency = Literal["first_article", "every_n_parts", "every_n_minutes", "final"]
CharacteristicKind = Literal["numeric", "attribute"]
NcStatus = Literal["open", "dispositioned", "closed"]
Disposition = Literal["rework", "scrap", "use_as_is", "return"]


class CharacteristicBase(SQLModel):
    name: str = Field(max_length=100)
    kind: str = Field(default="numeric", max_length=16)  # CharacteristicKind
    nominal: float | None = None
    lsl: float | None = None
    usl: float | None = None
    unit: str | None = Field(default=None, max_length=32)


class Characteristic(CharacteristicBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="inspectionplan.id", index=True)


class CharacteristicCreate(CharacteristicBase):
    kind: CharacteristicKind = "numeric"  # type: ignore[assignment]


class CharacteristicPublic(CharacteristicBase):
    id: int


class InspectionPlanBase(SQLModel):
    product_id: int = Field(foreign_key="product.id", index=True)
    step_no: int | None = None
    name: str = Field(max_length=200)
    frequency: str = Field(default="first_article", max_length=20)  # Frequency
    frequency_n: int | None = Field(default=None, gt=0)
    sample_size: int = Field(default=1, ge=1)


class InspectionPlan(InspectionPlanBase, table=True):
    id: int | None = Field(default=None, primary_key=True)


class InspectionPlanCreate(InspectionPlanBase):
    frequency: Frequency = "first_article"  # type: ignore[assignment]
    characteristics: list[CharacteristicCreate]


class InspectionPlanPublic(InspectionPlanBase):
    id: int
    characteristics: list[CharacteristicPublic] = []


class InspectionRecord(SQLModel, table=True):
    # a plan's newest records (SPC charts on the boss page): a top-N index scan, not a sort of a year's checks
    __table_args__ = (Index("ix_inspectionrecord_plan_created", "plan_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="inspectionplan.id", index=True)
    work_order_id: int = Field(foreign_key="workorder.id", index=True)
    operation_id: int | None = Field(default=None, foreign_key="operation.id")
    lot_code: str | None = Field(default=None, max_length=64)
    inspector: str = Field(max_length=100)
    passed: bool
    notes: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InspectionValue(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="inspectionrecord.id", index=True)
    characteristic_id: int = Field(foreign_key="characteristic.id")
    sample_no: int = 1
    value: float | None = None  # numeric characteristics
    attribute_ok: bool | None = None  # pass/fail characteristics
    passed: bool


class NonconformanceBase(SQLModel):
    work_order_id: int | None = Field(default=None, foreign_key="workorder.id", index=True)
    lot_code: str | None = Field(default=None, max_length=64)
    inspection_id: int | None = Field(default=None, foreign_key="inspectionrecord.id")
    quantity: int = Field(default=0, ge=0)
    description: str = Field(max_length=2000)


class Nonconformance(NonconformanceBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="open", max_length=16)  # NcStatus
    disposition: str | None = Field(default=None, max_length=16)  # Disposition
    disposition_note: str | None = Field(default=None, max_length=2000)
    opened_by: str = Field(max_length=100)
    dispositioned_by: str | None = Field(default=None, max_length=100)
    closed_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NonconformanceCreate(NonconformanceBase):
    pass


class NonconformancePublic(NonconformanceBase):
    id: int
    status: str
    disposition: str | None
    disposition_note: str | None
    opened_by: str
    dispositioned_by: str | None
    closed_by: str | None
    created_at: datetime
    closed_at: datetime | None

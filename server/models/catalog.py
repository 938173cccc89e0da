"""Master data: customers, products with their routings, reason codes."""

from typing import Literal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

ReasonKind = Literal["downtime", "scrap"]


class CustomerBase(SQLModel):
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    contact: str | None = Field(default=None, max_length=200)


class Customer(CustomerBase, table=True):
    id: int | None = Field(default=None, primary_key=True)


class CustomerCreate(CustomerBase):
    pass


class CustomerUpdate(SQLModel):
    name: str | None = None
    contact: str | None = None


class CustomerPublic(CustomerBase):
    id: int


class ProductBase(SQLModel):
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    unit: str = Field(default="pcs", max_length=16)
    # parts per machine cycle (the cavities of its mold): what a cycle counter's cycles are multiplied by
    parts_per_cycle: int | None = Field(default=None, ge=1)


class Product(ProductBase, table=True):
    id: int | None = Field(default=None, primary_key=True)


class RoutingStepBase(SQLModel):
    step_no: int = Field(ge=1)
    name: str = Field(max_length=200)
    station_id: int | None = Field(default=None, foreign_key="station.id")
    machine_kind: str | None = Field(default=None, max_length=64)
    ideal_cycle_s: float | None = Field(default=None, ge=0)


class RoutingStep(RoutingStepBase, table=True):
    __table_args__ = (UniqueConstraint("product_id", "step_no", name="uq_routing_product_step"),)
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)


class RoutingStepCreate(RoutingStepBase):
    pass


class RoutingStepPublic(RoutingStepBase):
    id: int
    product_id: int


class ProductCreate(ProductBase):
    routing: list[RoutingStepCreate] = []


class ProductUpdate(SQLModel):
    name: str | None = None
    unit: str | None = None
    parts_per_cycle: int | None = Field(default=None, ge=1)
    routing: list[RoutingStepCreate] | None = None


class ProductPublic(ProductBase):
    id: int
    routing: list[RoutingStepPublic] = []


class ReasonCodeBase(SQLModel):
    kind: str = Field(max_length=16)  # ReasonKind
    code: str = Field(max_length=64)
    label_zh: str = Field(max_length=200)
    label_en: str = Field(max_length=200)
    active: bool = True


class ReasonCode(ReasonCodeBase, table=True):
    __table_args__ = (UniqueConstraint("kind", "code", name="uq_reason_kind_code"),)
    id: int | None = Field(default=None, primary_key=True)


class ReasonCodeCreate(ReasonCodeBase):
    kind: ReasonKind  # type: ignore[assignment]


class ReasonCodeUpdate(SQLModel):
    label_zh: str | None = None
    label_en: str | None = None
    active: bool | None = None


class ReasonCodePublic(ReasonCodeBase):
    id: int

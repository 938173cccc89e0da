"""Bills of materials: per product and version, the components each routing step consumes per part made;
and each work order's own copy (taken when the order is created, like its operations from the routing)."""

from datetime import date

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class BomLineBase(SQLModel):
    step_no: int = Field(ge=1, description="the routing step that consumes the component")
    quantity_per_part: float = Field(gt=0, le=1_000_000)
    unit: str = Field(default="pcs", max_length=16)
    scrap_allowance: float = Field(default=0, ge=0, le=10, description="extra fraction planned, 0.02 = 2 %")
    with_scrap: bool = Field(default=True, description="backflush: scrap parts consume it too")


class BomLine(BomLineBase, table=True):
    __table_args__ = (
        UniqueConstraint("product_id", "version", "step_no", "material_id", name="uq_bomline_component"),
    )
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    version: int = Field(default=1, ge=1)
    material_id: int = Field(foreign_key="material.id", index=True)


class BomLineIn(BomLineBase):
    material: str = Field(min_length=1, max_length=64, description="material code")


class BomLinePublic(BomLineBase):
    material: str


class BomIn(SQLModel):
    """A product's whole BOM for one version (replaces that version's lines)."""

    lines: list[BomLineIn] = Field(max_length=500)


class BomPublic(SQLModel):
    product: str
    version: int
    lines: list[BomLinePublic]


class OrderComponent(BomLineBase, table=True):
    """A work order's copy of one BOM line (a later BOM change does not alter a running order)."""

    __table_args__ = (UniqueConstraint("work_order_id", "step_no", "material_id", name="uq_ordercomp"),)
    id: int | None = Field(default=None, primary_key=True)
    work_order_id: int = Field(foreign_key="workorder.id", index=True)
    material_id: int = Field(foreign_key="material.id", index=True)
    bom_version: int = Field(default=1)


class ComponentStatus(BomLinePublic):
    """A work order's component: what it needs, what was issued to it, consumed, and what is in stock."""

    bom_version: int
    required: float = Field(description="for the order's quantity, scrap allowance included")
    consumed: float = Field(description="backflushed so far")
    issued: float = Field(description="issued to the order and not yet consumed or returned")
    available: float = Field(description="in stock at stock locations (not issued to any order)")
    short: float = Field(description="required - consumed - issued - available, when above zero")
    unit_of_stock: str


class OrderShortageOut(SQLModel):
    number: str
    due_date: date | None
    status: str
    components: list[ComponentStatus]

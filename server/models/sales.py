"""Customer sales orders: the customer's PO with its lines, each line made by one or more work orders.

Money is stored as integers in ten-thousandths of the currency unit (`*_e4`): exact on every engine
(SQLite has no decimal type) and summed in SQL; the API shows it as a decimal.
"""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.orders import NUMBER_PATTERN
from server.models.production import CountSource
from server.models.types import UTCDateTime, utcnow

MONEY_SCALE = 10_000


class SalesOrder(SQLModel, table=True):
    __tablename__ = "sales_order"
    __table_args__ = (UniqueConstraint("customer_id", "po_number", name="uq_sales_order_customer_po"),)
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    po_number: str = Field(max_length=64)
    po_date: date | None = None
    notes: str | None = Field(default=None, max_length=2000)
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SalesOrderLine(SQLModel, table=True):
    __tablename__ = "sales_order_line"
    __table_args__ = (UniqueConstraint("sales_order_id", "line_no", name="uq_sales_line_order_no"),)
    id: int | None = Field(default=None, primary_key=True)
    sales_order_id: int = Field(foreign_key="sales_order.id", index=True)
    line_no: int
    product_id: int = Field(foreign_key="product.id")
    quantity: int
    due_date: date | None = None
    unit_price_e4: int | None = None


class SalesLineWorkOrder(SQLModel, table=True):
    """Which work orders make a sales-order line (a work order makes at most one line)."""

    __tablename__ = "sales_line_work_order"
    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="sales_order_line.id", index=True)
    work_order_id: int = Field(foreign_key="workorder.id", unique=True)


class SalesLineCreate(SQLModel):
    product: str = Field(min_length=1, max_length=64, description="product code")
    quantity: int = Field(gt=0, le=100_000_000)
    due_date: date | None = None
    unit_price: Decimal | None = Field(default=None, ge=0, le=100_000_000, decimal_places=4)


class SalesOrderCreate(SQLModel):
    customer: str = Field(min_length=1, max_length=64, description="customer code")
    po_number: str = Field(min_length=1, max_length=64, description="the customer's PO number")
    po_date: date | None = None
    notes: str | None = Field(default=None, max_length=2000)
    lines: list[SalesLineCreate] = Field(min_length=1, max_length=1000)


class PlannedOrder(SQLModel):
    number: str | None = Field(
        default=None, min_length=1, max_length=40, schema_extra={"pattern": NUMBER_PATTERN},
        description="work-order number; default SO<id>-<line>-<n>",
    )  # fmt: skip
    quantity: int = Field(gt=0, le=100_000_000)


class LineSplit(SQLModel):
    """Work orders for a line: their quantities must add up to what the line still needs."""

    orders: list[PlannedOrder] = Field(min_length=1, max_length=100)
    priority: int = Field(default=0, ge=0, le=1000)
    count_source: CountSource = "machine"


class LineWorkOrder(SQLModel):
    number: str
    quantity: int
    status: str
    good: int
    percent: float


class SalesLinePublic(SQLModel):
    line_no: int
    product: str
    quantity: int
    due_date: date | None
    unit_price: Decimal | None
    status: str
    planned: int = Field(description="quantity of the line's live (not cancelled) work orders")
    good: int
    percent: float
    work_orders: list[LineWorkOrder]


class SalesOrderPublic(SQLModel):
    id: int
    customer: str
    customer_name: str
    po_number: str
    po_date: date | None
    notes: str | None
    status: str
    created_by: str | None
    created_at: datetime
    lines: list[SalesLinePublic]

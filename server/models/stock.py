"""The stock ledger: one append-only row per movement of a lot at a location, and the balance per lot and
location that each movement updates in the same transaction (the on-hand summary; the ledger is the truth:
`stock.ledger_on_hand` recomputes a balance from it).

Locations are codes (`WH`, `LINE-A`); stock issued to a work order sits at the location `wo:{number}`
until backflush consumes it or it is returned.
"""

from datetime import datetime
from typing import Literal

from sqlalchemy import Index, LargeBinary
from sqlmodel import Field, SQLModel

from server.models.types import UTCDateTime, utcnow

MoveKind = Literal["receipt", "issue", "return", "transfer", "adjust", "consume"]
LOCATION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
LOT_PATTERN = LOCATION_PATTERN  # a lot code is a path segment (/l/{code}) and is printed on its label


class StockMove(SQLModel, table=True):
    __table_args__ = (Index("ix_stockmove_lot_location", "lot_id", "location"),)
    id: int | None = Field(default=None, primary_key=True)
    ts: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    kind: str = Field(max_length=16)  # MoveKind
    material_id: int = Field(foreign_key="material.id", index=True)
    lot_id: int = Field(foreign_key="materiallot.id")
    location: str = Field(max_length=80)
    quantity: float  # signed: + into the location, - out of it
    work_order_id: int | None = Field(default=None, foreign_key="workorder.id", index=True)
    operation_id: int | None = Field(default=None, foreign_key="operation.id")
    reason: str | None = Field(default=None, max_length=200)
    actor: str = Field(max_length=100)


class StockBalance(SQLModel, table=True):
    lot_id: int = Field(foreign_key="materiallot.id", primary_key=True)
    location: str = Field(max_length=80, primary_key=True)
    material_id: int = Field(foreign_key="material.id", index=True)
    work_order_id: int | None = Field(default=None, foreign_key="workorder.id", index=True)
    quantity: float = 0


class LotReceipt(SQLModel, table=True):
    """What came with a received lot: the supplier's own lot number and its certificate file."""

    lot_id: int = Field(foreign_key="materiallot.id", primary_key=True)
    supplier_lot: str | None = Field(default=None, max_length=100)
    certificate_name: str | None = Field(default=None, max_length=120)
    certificate_type: str | None = Field(default=None, max_length=40)
    certificate: bytes | None = Field(default=None, sa_type=LargeBinary)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MoveOut(SQLModel):
    id: int
    ts: datetime
    kind: str
    material: str
    lot: str
    location: str
    quantity: float
    work_order: str | None
    reason: str | None
    actor: str


class ReceiptIn(SQLModel):
    lot_code: str = Field(min_length=1, max_length=64, schema_extra={"pattern": LOT_PATTERN})
    material: str = Field(min_length=1, max_length=64, description="material code")
    quantity: float = Field(gt=0, le=1e9)
    location: str = Field(default="WH", max_length=80, schema_extra={"pattern": LOCATION_PATTERN})
    supplier: str | None = Field(default=None, max_length=200)
    supplier_lot: str | None = Field(default=None, max_length=100)


class IssueIn(SQLModel):
    """Issue (领料) a lot to a work order; without `quantity`, all of the lot at `location`; without
    `location`, from the one stock location that holds the lot (a scan at the station names no place)."""

    lot_code: str = Field(min_length=1, max_length=64)
    work_order: str = Field(min_length=1, max_length=40)
    quantity: float | None = Field(default=None, gt=0, le=1e9)
    location: str | None = Field(default=None, max_length=80, schema_extra={"pattern": LOCATION_PATTERN})


class ReturnIn(SQLModel):
    """Return (退料) what is left of a lot issued to a work order; without `quantity`, all of it."""

    lot_code: str = Field(min_length=1, max_length=64)
    work_order: str = Field(min_length=1, max_length=40)
    quantity: float | None = Field(default=None, gt=0, le=1e9)
    location: str = Field(default="WH", max_length=80, schema_extra={"pattern": LOCATION_PATTERN})


class TransferIn(SQLModel):
    lot_code: str = Field(min_length=1, max_length=64)
    quantity: float = Field(gt=0, le=1e9)
    from_location: str = Field(max_length=80, schema_extra={"pattern": LOCATION_PATTERN})
    to_location: str = Field(max_length=80, schema_extra={"pattern": LOCATION_PATTERN})


class AdjustIn(SQLModel):
    lot_code: str = Field(min_length=1, max_length=64)
    location: str = Field(max_length=80, schema_extra={"pattern": LOCATION_PATTERN})
    quantity: float = Field(ge=-1e9, le=1e9, description="signed change: counted minus booked")
    reason: str = Field(min_length=1, max_length=200)


class BalanceOut(SQLModel):
    material: str
    lot: str
    location: str
    work_order: str | None
    quantity: float


class OnHandOut(SQLModel):
    material: str
    unit: str
    on_hand: float = Field(description="at stock locations, not issued to work orders")
    issued: float = Field(description="issued to work orders and not yet consumed")
    lots: list[BalanceOut]


class MaterialTotal(SQLModel):
    material: str
    unit: str
    on_hand: float = Field(description="at stock locations, not issued to work orders")
    issued: float = Field(description="issued to work orders and not yet consumed")

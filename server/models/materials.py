"""Material lots, consumed by and produced by operations (traceability / genealogy)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.models.types import UTCDateTime, utcnow


class MaterialLotBase(SQLModel):
    code: str = Field(max_length=64, unique=True, index=True)
    material: str = Field(max_length=200)
    quantity: float = Field(default=0, ge=0)
    unit: str = Field(default="pcs", max_length=16)
    supplier: str | None = Field(default=None, max_length=200)


class MaterialLot(MaterialLotBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    produced_by_operation_id: int | None = Field(default=None, foreign_key="operation.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MaterialLotCreate(MaterialLotBase):
    pass


class MaterialLotPublic(MaterialLotBase):
    id: int
    produced_by_operation_id: int | None
    created_at: datetime


class LotConsumption(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    lot_id: int = Field(foreign_key="materiallot.id", index=True)
    operation_id: int = Field(foreign_key="operation.id", index=True)
    quantity: float = Field(default=0, ge=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MaterialBase(SQLModel):
    """A component or raw material kept in stock; its lots name it by `code` (`MaterialLot.material`)."""

    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    unit: str = Field(default="pcs", max_length=16)
    allow_negative: bool = Field(default=False, description="may its stock go below zero (else refused)")


class Material(MaterialBase, table=True):
    id: int | None = Field(default=None, primary_key=True)


class MaterialCreate(MaterialBase):
    pass


class MaterialUpdate(SQLModel):
    name: str | None = Field(default=None, max_length=200)
    unit: str | None = Field(default=None, max_length=16)
    allow_negative: bool | None = None


class MaterialPublic(MaterialBase):
    id: int

"""Piece-rate pay: rates per product and routing step, operators' skill levels, hours on a station,
supervisors' adjustments and closed pay periods. Money is integers of 1/10000 (`*_e4`, see sales.py)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.types import UTCDateTime, utcnow

ScrapRule = Literal["unpaid", "deduct", "material_share"]


class PieceRate(SQLModel, table=True):
    """What one good part of a product's routing step pays from `effective_from` on (until a later rate
    of the same product, step and skill level). `skill_level` "" is every level without its own rate; a
    `team` rate pools the step's good parts of a day and splits the pay by the operators' hours."""

    __tablename__ = "piece_rate"
    __table_args__ = (
        UniqueConstraint("product_id", "step_no", "skill_level", "effective_from", name="uq_piece_rate_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    step_no: int
    effective_from: date
    rate_e4: int
    skill_level: str = Field(default="", max_length=16)
    team: bool = False
    scrap_rule: str = Field(default="unpaid", max_length=16)  # ScrapRule
    material_share_pct: int = (
        0  # material_share: this share of the rate per part scrapped for a material cause
    )
    material_reasons: str = Field(default="", max_length=400)  # scrap reason codes that are material causes
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OperatorSkill(SQLModel, table=True):
    __tablename__ = "operator_skill"
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    level: str = Field(max_length=16)


class StationSession(SQLModel, table=True):
    """An operator's time signed in at a station (badge sign-in to sign-out, or to the session's end)."""

    __tablename__ = "station_session"
    __table_args__ = (  # a session ends by its expiry at the latest: a period reads those expiring after it
        Index("ix_station_session_user_expires", "user_id", "expires_ms"),
        Index("ix_station_session_expires", "expires_ms"),
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    station_id: int = Field(foreign_key="station.id")
    start_ms: int = Field(sa_type=BigInteger)
    end_ms: int | None = Field(default=None, sa_type=BigInteger)  # signed out
    expires_ms: int = Field(sa_type=BigInteger)  # the session's end when nobody signs out


class WageAdjustment(SQLModel, table=True):
    """A supervisor's line on a wage sheet: never an edit of the computed numbers."""

    __tablename__ = "wage_adjustment"
    __table_args__ = (Index("ix_wage_adjustment_period", "period_start", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    period_start: date
    day: date
    amount_e4: int
    reason: str = Field(max_length=400)
    author: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PayPeriod(SQLModel, table=True):
    """A closed pay period: its sheet counts only reports made before `closed_at`; later ones for its days
    are paid in the period they were made in."""

    __tablename__ = "pay_period"
    id: int | None = Field(default=None, primary_key=True)
    start: date = Field(unique=True)
    end: date
    start_ms: int = Field(sa_type=BigInteger)
    end_ms: int = Field(sa_type=BigInteger)
    closed_at: datetime = Field(sa_type=UTCDateTime)
    closed_by: str = Field(max_length=100)


class PieceRateCreate(SQLModel):
    product: str = Field(min_length=1, max_length=64)
    step_no: int = Field(ge=1, le=1_000_000)
    effective_from: date
    rate: Decimal = Field(ge=0, le=1_000_000, decimal_places=4, description="pay per good part")
    skill_level: str = Field(default="", max_length=16)
    team: bool = False
    scrap_rule: ScrapRule = "unpaid"
    material_share_pct: int = Field(default=0, ge=0, le=100)
    material_reasons: list[str] = Field(default=[], max_length=20)


class PieceRatePublic(SQLModel):
    id: int
    product: str
    step_no: int
    effective_from: date
    rate: Decimal
    skill_level: str
    team: bool
    scrap_rule: str
    material_share_pct: int
    material_reasons: list[str]
    created_by: str | None


class SkillSet(SQLModel):
    level: str = Field(min_length=1, max_length=16)


class AdjustmentCreate(SQLModel):
    username: str = Field(min_length=1, max_length=64)
    day: date
    amount: Decimal = Field(ge=-1_000_000, le=1_000_000, decimal_places=2)
    reason: str = Field(min_length=1, max_length=400)


class PeriodClose(SQLModel):
    start: date
    confirm_flags: bool = Field(default=False, description="close although reports exceed machine counts")


class WageLinePublic(SQLModel):
    username: str
    name: str
    day: date
    product: str
    step_no: int
    step_name: str
    good: int
    scrap: int
    rate: Decimal | None
    amount: Decimal
    machine_backed: bool
    team: bool
    late: bool = Field(description="made after its own period closed: paid in this one")


class WageDayPublic(SQLModel):
    username: str
    day: date
    pieces: int
    amount: Decimal
    hours: float
    per_hour: Decimal | None


class WageOperatorPublic(SQLModel):
    username: str
    name: str
    pieces: int
    amount: Decimal
    adjustments: Decimal
    total: Decimal
    hours: float
    per_hour: Decimal | None


class WageFlagPublic(SQLModel):
    username: str
    day: date
    work_order: str
    step_no: int
    reported: int
    reported_all: int
    machine: int


class WageAdjustmentPublic(SQLModel):
    username: str
    day: date
    amount: Decimal
    reason: str
    author: str
    created_at: datetime


class WageSheetPublic(SQLModel):
    start: date
    end: date
    closed_at: datetime | None
    closed_by: str | None
    total: Decimal
    operators: list[WageOperatorPublic]
    days: list[WageDayPublic]
    lines: list[WageLinePublic]
    adjustments: list[WageAdjustmentPublic]
    flags: list[WageFlagPublic]

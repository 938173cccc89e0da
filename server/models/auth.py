"""People and credentials: users, API tokens, enrolled tablets, sign-in throttle, share links.

Secrets are never stored: passwords and PINs as argon2 hashes, tokens as SHA-256 hex digests.
"""

from datetime import datetime
from typing import Literal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.types import UTCDateTime, utcnow

Role = Literal["admin", "planner", "supervisor", "operator", "inspector", "payroll"]


class UserBase(SQLModel):
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(max_length=200)
    role: str = Field(max_length=16)  # Role
    badge: str | None = Field(default=None, max_length=64, unique=True)
    active: bool = True


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str | None = Field(default=None, max_length=200)
    pin_hash: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserCreate(UserBase):
    role: Role  # type: ignore[assignment]
    password: str | None = Field(default=None, min_length=8, max_length=200)
    pin: str | None = Field(default=None, min_length=4, max_length=12, schema_extra={"pattern": r"^[0-9]+$"})


class UserUpdate(SQLModel):
    display_name: str | None = None
    role: Role | None = None
    badge: str | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
    pin: str | None = Field(default=None, min_length=4, max_length=12, schema_extra={"pattern": r"^[0-9]+$"})


class UserPublic(UserBase):
    id: int


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(default="api", max_length=100)
    kind: str = Field(default="api", max_length=16)  # api | operator_session
    station_id: int | None = Field(default=None, foreign_key="station.id")
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserStation(SQLModel, table=True):
    """A station an operator works at. An operator signed in by password or API token acts only on the
    operations of its assigned stations (a badge session: on its tablet's station); none assigned: none."""

    __tablename__ = "user_station"
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    station_id: int = Field(foreign_key="station.id", primary_key=True, index=True)


class StationsAssigned(SQLModel):
    stations: list[str] = Field(max_length=100, description="station codes")


class Tablet(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True)
    name: str = Field(max_length=100)
    device_token_hash: str = Field(max_length=64, unique=True, index=True)
    revoked: bool = False
    enrolled_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # the one-time enrollment link's code (hashed) and its end; redeeming it rotates the device token (0020)
    enroll_code_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    enroll_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SigninThrottle(SQLModel, table=True):
    """Failed sign-ins per badge and per tablet; `locked_until` set after too many."""

    __table_args__ = (UniqueConstraint("scope", "key", name="uq_throttle_scope_key"),)
    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)  # badge | tablet
    key: str = Field(max_length=100)
    failures: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ShareLink(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # one of the two: a work order's link, or a customer's whole sales order (every line's progress, 0014)
    work_order_id: int | None = Field(default=None, foreign_key="workorder.id", index=True)
    sales_order_id: int | None = Field(default=None, foreign_key="sales_order.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked: bool = False
    show_progress: bool = True
    show_eta: bool = True
    show_inspections: bool = True
    show_certificate: bool = False  # the inspection certificate, released by a planner (0003)
    show_scrap: bool = False  # scrap counts on the page (links made before 0019 keep showing them)
    customer_ref: str | None = Field(default=None, max_length=100)  # their PO or reference, on top (0019)
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

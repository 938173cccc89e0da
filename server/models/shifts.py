"""The shift calendar per site: shifts with local start/end times and weekdays, and their breaks."""

from datetime import time

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class ShiftBreakBase(SQLModel):
    name: str = Field(default="break", max_length=100)
    start_local: time
    end_local: time


class ShiftBreak(ShiftBreakBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    shift_id: int = Field(foreign_key="shift.id", index=True)


class ShiftBreakPublic(ShiftBreakBase):
    id: int


class ShiftBase(SQLModel):
    site_id: int = Field(foreign_key="site.id", index=True)
    name: str = Field(max_length=100)
    start_local: time
    end_local: time  # earlier than start_local: the shift ends the next day
    days: str = Field(default="1,2,3,4,5", max_length=20)  # ISO weekdays, 1 = Monday


class Shift(ShiftBase, table=True):
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_shift_site_name"),)
    id: int | None = Field(default=None, primary_key=True)


class ShiftCreate(ShiftBase):
    breaks: list[ShiftBreakBase] = []


class ShiftUpdate(SQLModel):
    name: str | None = None
    start_local: time | None = None
    end_local: time | None = None
    days: str | None = None
    breaks: list[ShiftBreakBase] | None = None


class ShiftPublic(ShiftBase):
    id: int
    breaks: list[ShiftBreakPublic] = []
    planned_minutes: float = 0.0

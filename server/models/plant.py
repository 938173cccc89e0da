"""The plant: sites, lines, stations, machines and their tags."""

from pydantic import field_validator
from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.core.sitetime import check_zone


class SiteBase(SQLModel):
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=64)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)


class Site(SiteBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)


class SiteCreate(SiteBase):
    pass


class SiteUpdate(SQLModel):
    name: str | None = None
    timezone: str | None = Field(default=None, max_length=64)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)


class SitePublic(SiteBase):
    id: int


class LineBase(SQLModel):
    site_id: int = Field(foreign_key="site.id", index=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)


class Line(LineBase, table=True):
    __table_args__ = (UniqueConstraint("site_id", "code", name="uq_line_site_code"),)
    id: int | None = Field(default=None, primary_key=True)


class LineCreate(LineBase):
    pass


class LineUpdate(SQLModel):
    name: str | None = None


class LinePublic(LineBase):
    id: int


class StationBase(SQLModel):
    line_id: int = Field(foreign_key="line.id", index=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    machine_id: int | None = Field(default=None, foreign_key="machine.id")


class Station(StationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)


class StationCreate(StationBase):
    pass


class StationUpdate(SQLModel):
    name: str | None = None
    machine_id: int | None = None


class StationPublic(StationBase):
    id: int


class MachineBase(SQLModel):
    site_id: int = Field(foreign_key="site.id", index=True)
    line_id: int | None = Field(default=None, foreign_key="line.id")
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(default="generic", max_length=64)
    edge_id: str | None = Field(default=None, max_length=64, index=True)
    ideal_cycle_s: float | None = Field(default=None, ge=0)


class Machine(MachineBase, table=True):
    __table_args__ = (UniqueConstraint("site_id", "code", name="uq_machine_site_code"),)
    id: int | None = Field(default=None, primary_key=True)


class MachineCreate(MachineBase):
    pass


class MachineUpdate(SQLModel):
    name: str | None = None
    kind: str | None = None
    line_id: int | None = None
    edge_id: str | None = None
    ideal_cycle_s: float | None = None


class MachinePublic(MachineBase):
    id: int


class TagBase(SQLModel):
    name: str = Field(max_length=64)
    role: str = Field(default="analog", max_length=32)  # shared.messages.Role
    width: int | None = None
    unit: str | None = Field(default=None, max_length=32)
    writable: bool = False
    # counters (docs/contracts.md, "Tag meaning"): up or down, what a reset lands on, fixed parts per cycle
    direction: str = Field(default="up", max_length=8)
    reset_value: int = Field(default=0, ge=0, sa_type=BigInteger)
    parts_per_cycle: int | None = Field(default=None, ge=1)


class Tag(TagBase, table=True):
    __table_args__ = (UniqueConstraint("machine_id", "name", name="uq_tag_machine_name"),)
    id: int | None = Field(default=None, primary_key=True)
    machine_id: int = Field(foreign_key="machine.id", index=True)


class TagCreate(TagBase):
    pass


class TagPublic(TagBase):
    id: int
    machine_id: int

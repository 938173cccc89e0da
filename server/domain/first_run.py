"""The one-time set-up of a new site: its name and time zone, the first admin and the shift calendar.

Offered while no active admin exists (`needed`), by `takt server setup` and by `/setup` (with the one-time
code the server logs at start); once an admin exists, `run` refuses, so the page and the code are dead.
"""

import re
from dataclasses import dataclass
from datetime import time

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from server.core.errors import Conflict, InvalidInput
from server.core.sitetime import check_zone
from server.domain import accounts, audit, crud, sites
from server.models.auth import User, UserCreate
from server.models.plant import Site
from server.models.shifts import Shift, ShiftBreak

ACTOR = "setup"
DEFAULT_SHIFT = "Day 08:00-17:00 1-5 break 12:00-13:00"
SHIFT_LINE = re.compile(
    r"^\s*(?P<name>.+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})"
    r"(?:\s+(?P<days>[1-7](?:\s*[,-]\s*[1-7])*))?"
    r"(?:\s+(?:break|休息)\s+(?P<bstart>\d{1,2}:\d{2})\s*-\s*(?P<bend>\d{1,2}:\d{2}))?\s*$"
)


@dataclass(frozen=True)
class ShiftSpec:
    """One shift of the calendar: local start and end (an end before the start: the next day), ISO
    weekdays "1,2,3,4,5", and at most one break."""

    name: str
    start: time
    end: time
    days: str
    break_span: tuple[time, time] | None = None


class SiteSetup(BaseModel):
    site_name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(max_length=64)
    admin_username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    admin_display_name: str = Field(default="", max_length=200)
    admin_password: str = Field(min_length=8, max_length=200)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value.strip())


def needed(session: Session) -> bool:
    """True while the database has no active admin: a new site (or one whose admins were all removed)."""
    admin = select(User.id).where(User.role == "admin", User.active == True)  # noqa: E712
    return session.exec(admin).first() is None


def _clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 23 or minutes > 59:
        raise InvalidInput("%(value)s is not a time of day (00:00 to 23:59)", value=text)
    return time(hours, minutes)


def _days(text: str | None) -> str:
    """ "1-5" or "1,2,3,4,5" or "1-3,6" -> "1,2,3,4,5"; none given: Monday to Friday."""
    if not text:
        return "1,2,3,4,5"
    found: set[int] = set()
    for part in re.sub(r"\s", "", text).split(","):
        first, _, last = part.partition("-")
        found.update(range(int(first), int(last or first) + 1))
    return ",".join(str(day) for day in sorted(found))


def parse_shifts(text: str) -> list[ShiftSpec]:
    """One shift per line: `Day 08:00-17:00 1-5 break 12:00-13:00` (days and break optional)."""
    specs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = SHIFT_LINE.match(line)
        if match is None:
            raise InvalidInput(
                "shift line %(line)s: %(text)s is not like `Day 08:00-17:00 1-5 break 12:00-13:00`",
                line=number, text=line.strip(),
            )  # fmt: skip
        span = (_clock(match["bstart"]), _clock(match["bend"])) if match["bstart"] else None
        name = match["name"].strip()[:100]
        specs.append(
            ShiftSpec(name, _clock(match["start"]), _clock(match["end"]), _days(match["days"]), span)
        )
    if not specs:
        raise InvalidInput("the shift calendar needs at least one shift, e.g. `Day 08:00-17:00 1-5`")
    return specs


def run(session: Session, site_code: str, setup: SiteSetup, shifts: list[ShiftSpec]) -> Site:
    """Create (or name and zone) site `site_code`, the first admin and the shifts; audit-logged as `setup`.
    Refused with Conflict once an active admin exists."""
    if not needed(session):
        raise Conflict("this site is already set up: sign in as an admin instead")
    site = sites.site_of(session, site_code)
    named = Site(code=site_code, name=setup.site_name, timezone=setup.timezone)
    site = crud.create(session, ACTOR, named) if site is None else crud.update(session, ACTOR, site, named)
    add_shifts(session, ACTOR, site.id or 0, shifts)
    admin = UserCreate(
        username=setup.admin_username, display_name=setup.admin_display_name or setup.admin_username,
        role="admin", password=setup.admin_password,
    )  # fmt: skip
    accounts.create_user(session, ACTOR, admin)
    return site


def add_shifts(session: Session, actor: str, site_id: int, shifts: list[ShiftSpec]) -> None:
    """Store `shifts` (and their breaks) for site `site_id`, each row audit-logged as `actor`."""
    for spec in shifts:
        shift = Shift(site_id=site_id, name=spec.name, start_local=spec.start, end_local=spec.end,
                      days=spec.days)  # fmt: skip
        crud.create(session, actor, shift)
        if spec.break_span is not None:
            first, last = spec.break_span
            crud.create(session, actor, ShiftBreak(shift_id=shift.id or 0, start_local=first, end_local=last))


def replace_shift(session: Session, actor: str, shift: Shift, spec: ShiftSpec) -> Shift:
    """Give `shift` the name, hours, weekdays and break of `spec` (its breaks replaced), in one
    transaction; audit-logged with the line before and after."""
    before = shift_line(shift, _breaks(session, shift))
    for old in _breaks(session, shift):
        session.delete(old)
    shift.name, shift.start_local, shift.end_local, shift.days = spec.name, spec.start, spec.end, spec.days
    session.add(shift)
    if spec.break_span is not None:
        first, last = spec.break_span
        session.add(ShiftBreak(shift_id=shift.id or 0, start_local=first, end_local=last))
    session.flush()
    audit.record(
        session,
        actor,
        "Shift",
        shift.id,
        "update",
        {"shift": [before, shift_line(shift, _breaks(session, shift))]},
    )
    session.commit()
    return shift


def remove_shift(session: Session, actor: str, shift: Shift) -> None:
    """Delete a shift and its breaks from the calendar (OEE's planned time follows the calendar)."""
    line = shift_line(shift, _breaks(session, shift))
    for old in _breaks(session, shift):
        session.delete(old)
    session.delete(shift)
    audit.record(session, actor, "Shift", shift.id, "delete", {"shift": line})
    session.commit()


def _breaks(session: Session, shift: Shift) -> list[ShiftBreak]:
    return list(session.exec(select(ShiftBreak).where(ShiftBreak.shift_id == shift.id)).all())


def shift_line(shift: Shift, breaks: list[ShiftBreak]) -> str:
    """A shift in the form's one-line format (what `parse_shifts` reads)."""
    line = f"{shift.name} {shift.start_local:%H:%M}-{shift.end_local:%H:%M} {shift.days}"
    return line + (f" break {breaks[0].start_local:%H:%M}-{breaks[0].end_local:%H:%M}" if breaks else "")


def site_shifts(session: Session, site_id: int) -> list[tuple[Shift, list[ShiftBreak]]]:
    """The site's shifts by start time, each with its breaks."""
    shifts = session.exec(
        select(Shift).where(Shift.site_id == site_id).order_by(col(Shift.start_local))
    ).all()
    breaks = session.exec(
        select(ShiftBreak).where(col(ShiftBreak.shift_id).in_([s.id for s in shifts]))
    ).all()
    return [(s, [b for b in breaks if b.shift_id == s.id]) for s in shifts]

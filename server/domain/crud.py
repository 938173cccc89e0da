"""Small helpers every resource uses: get-or-404, partial updates with audit, paginated lists."""

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, false, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from server.core.errors import Conflict, Msgid, NotFound
from server.domain import audit

T = TypeVar("T", bound=SQLModel)
MAX_LIMIT = 500
# what the messages call a row of each model (translated on the pages; capitalised: they open the sentence,
# and lower-case "machine" is a count source in the `web` domain); any other model is a "Record"
NOUNS = {
    "Customer": Msgid("Customer"), "DowntimeEvent": Msgid("Downtime event"),
    "InspectionPlan": Msgid("Inspection plan"), "Line": Msgid("Line"), "Machine": Msgid("Machine"),
    "MaterialLot": Msgid("Material lot"), "Nonconformance": Msgid("Nonconformance"),
    "Product": Msgid("Product"), "ReasonCode": Msgid("Reason code"), "ShareLink": Msgid("Share link"),
    "Shift": Msgid("Shift"), "Site": Msgid("Site"), "Station": Msgid("Station"), "Tablet": Msgid("Tablet"),
    "Tag": Msgid("Tag"), "User": Msgid("User"), "WorkOrder": Msgid("Work order"),
}  # fmt: skip
RECORD = Msgid("Record")


def noun(model: type[SQLModel]) -> Msgid:
    return NOUNS.get(model.__name__, RECORD)


def get_by(session: Session, model: type[T], **where: Any) -> T:
    stmt = select(model)
    for field, value in where.items():
        stmt = stmt.where(getattr(model, field) == value)
    row = session.exec(stmt).first()
    if row is None:
        key = ", ".join(f"{k}={v!r}" for k, v in where.items())
        raise NotFound("%(what)s with %(key)s not found", what=noun(model), key=key)
    return row


def create(session: Session, actor: str, row: T) -> T:
    """Insert `row`, audit it and commit; a unique clash becomes Conflict."""
    _flush(session, row, Msgid("%(what)s already exists or refers to a missing row"))
    audit.record(session, actor, type(row).__name__, _ident(row), "create", audit.snapshot(row))
    session.commit()
    session.refresh(row)
    return row


def update(session: Session, actor: str, row: T, patch: SQLModel) -> T:
    """Apply the fields set in `patch`, audit the diff and commit."""
    before = audit.snapshot(row)
    row.sqlmodel_update(patch.model_dump(exclude_unset=True))
    _flush(session, row, Msgid("%(what)s update clashes with an existing row"))
    diff = audit.changes(before, audit.snapshot(row))
    if diff:
        audit.record(session, actor, type(row).__name__, _ident(row), "update", diff)
    session.commit()
    session.refresh(row)
    return row


def _flush(session: Session, row: SQLModel, clash: Msgid) -> None:
    """Add and flush `row`; a unique or foreign-key clash rolls back and becomes Conflict(`clash`) (a msgid:
    the errors catalog extracts it where it is written)."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError as err:
        session.rollback()
        raise Conflict(clash, what=noun(type(row))) from err


def _ident(row: SQLModel) -> object:
    return getattr(row, "id", None)


def page(session: Session, stmt: SelectOfScalar[T], limit: int, offset: int) -> tuple[Sequence[T], int]:
    """Rows `offset..offset+limit` of `stmt` and the total count."""
    total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    rows = session.exec(stmt.limit(min(limit, MAX_LIMIT)).offset(offset)).all()
    return rows, int(total)


def search(text: str, *columns: Any) -> ColumnElement[bool]:
    """A parameterised, case-insensitive substring match of `text` on any of `columns`.

    Text holding NUL matches nothing (nothing stored holds it; SQLite would cut the pattern there).
    """
    if "\x00" in text:
        return false()
    pattern = like_pattern(text)
    return or_(*(col(c).ilike(pattern, escape="\\") for c in columns))


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (escape char: backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"

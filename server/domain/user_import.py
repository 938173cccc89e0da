"""CSV and XLSX import of users (a factory's operators with their badges and PINs, in one file), by the
work orders' import rules: columns username, display_name, role, badge, pin, password; every row checked
first (a taken or repeated username or badge, a bad role or PIN: row, field, message), any error imports
nothing; `dry_run` checks only. PINs and passwords are hashed like any user's (server/domain/accounts.py)."""

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from server.core.errors import Msgid
from server.domain import accounts
from server.domain.importexport import ImportResult, RowError, clean, read_rows
from server.models.auth import User, UserCreate

COLUMNS = ["username", "display_name", "role", "badge", "pin", "password"]


def _text(row: dict[str, Any]) -> dict[str, Any]:
    """Badges and PINs as text: Excel keeps `0042` as the number 42 unless the cell is text."""
    return {
        k: str(int(v)) if isinstance(v, int | float) and k in ("badge", "pin") else v for k, v in row.items()
    }


def _validate(session: Session, rows: list[dict[str, Any]]) -> tuple[list[UserCreate], list[RowError]]:
    taken_names = set(session.exec(select(User.username)).all())
    taken_badges = {b for b in session.exec(select(User.badge)).all() if b}
    good: list[UserCreate] = []
    errors: list[RowError] = []
    for index, raw in enumerate(rows, start=2):
        try:
            body = UserCreate.model_validate(_text(clean(raw, COLUMNS)))
        except ValidationError as err:
            errors += [RowError.invalid(index, e) for e in err.errors()]
            continue
        if body.username in taken_names:
            errors.append(RowError.of(index, "username", Msgid("user %(username)s already exists"),
                                      username=body.username))  # fmt: skip
        if body.badge and body.badge in taken_badges:
            errors.append(RowError.of(index, "badge", Msgid("badge %(badge)s is already someone's"),
                                      badge=body.badge))  # fmt: skip
        taken_names.add(body.username)
        if body.badge:
            taken_badges.add(body.badge)
        good.append(body)
    return good, errors


def import_users(session: Session, actor: str, data: bytes, fmt: str, dry_run: bool) -> ImportResult:
    rows = read_rows(data, fmt)
    bodies, errors = _validate(session, rows)
    if errors or dry_run:
        return ImportResult(dry_run=dry_run, rows=len(rows), imported=0, errors=errors)
    for body in bodies:
        accounts.create_user(session, actor, body)
    return ImportResult(dry_run=False, rows=len(rows), imported=len(bodies), errors=[])

"""CSV and XLSX import of machines, by the work orders' import rules: columns code, name, line (a line's
code, optional), kind, ideal_cycle_s; every row checked first (a taken or repeated code, an unknown line, a
bad number: row, field, message), any error imports nothing; `dry_run` checks only."""

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from server.core.errors import Msgid
from server.domain import crud
from server.domain.importexport import ImportResult, RowError, clean, read_rows
from server.models.plant import Line, Machine, MachineCreate

COLUMNS = ["code", "name", "line", "kind", "ideal_cycle_s"]


def _validate(
    session: Session, site_id: int, rows: list[dict[str, Any]]
) -> tuple[list[Machine], list[RowError]]:
    lines = {
        code: id_ for code, id_ in session.exec(select(Line.code, Line.id).where(Line.site_id == site_id))
    }
    taken = set(session.exec(select(Machine.code)).all())
    good: list[Machine] = []
    errors: list[RowError] = []
    for index, raw in enumerate(rows, start=2):
        row = clean(raw, COLUMNS)
        line = str(row.pop("line", ""))
        if line and line not in lines:
            errors.append(RowError.of(index, "line", Msgid("unknown line %(line)r"), line=line))
        try:
            body = MachineCreate.model_validate(row | {"site_id": site_id, "line_id": lines.get(line)})
        except ValidationError as err:
            errors += [RowError.invalid(index, e) for e in err.errors()]
            continue
        if body.code in taken:
            errors.append(
                RowError.of(index, "code", Msgid("machine %(code)s already exists"), code=body.code)
            )
        taken.add(body.code)
        good.append(Machine.model_validate(body))
    return good, errors


def import_machines(
    session: Session, actor: str, site_id: int, data: bytes, fmt: str, dry_run: bool
) -> ImportResult:
    rows = read_rows(data, fmt)
    machines, errors = _validate(session, site_id, rows)
    if errors or dry_run:
        return ImportResult(dry_run=dry_run, rows=len(rows), imported=0, errors=errors)
    for machine in machines:
        crud.create(session, actor, machine)
    return ImportResult(dry_run=False, rows=len(rows), imported=len(machines), errors=[])

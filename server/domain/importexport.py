"""CSV and XLSX import and export of work orders.

Columns: number, product, customer, quantity, due_date (YYYY-MM-DD), priority, count_source, notes;
export adds status (ignored on import). Import is all or nothing: every row is validated first and
any error (row number as in the file, header = row 1; field; message) imports nothing. `dry_run`
validates only. A row error's `message` is English (pydantic's own for a bad value); `msgid` and `params`,
or pydantic's `detail` (not in the JSON), let the import page show it in its language.
"""

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

from openpyxl import Workbook, load_workbook
from pydantic import PrivateAttr, ValidationError
from pydantic_core import ErrorDetails
from sqlmodel import Session, SQLModel, col, select

from server.core.errors import InvalidInput, Msgid
from server.domain import workorders as wo
from server.domain.import_values import as_iso_date, decode_csv
from server.domain.sheets import csv_row, xlsx_append
from server.models.catalog import Customer, Product
from server.models.orders import WorkOrderCreate, WorkOrderSummary
from server.models.production import WorkOrder

COLUMNS = ["number", "product", "customer", "quantity", "due_date", "priority", "count_source", "notes"]
EXPORT_COLUMNS = [*COLUMNS, "status"]
MAX_ROWS = 10_000


class RowError(SQLModel):
    row: int
    field: str
    message: str
    _msgid: str = PrivateAttr(default="")
    _params: dict[str, object] = PrivateAttr(default_factory=dict)
    _detail: ErrorDetails | None = PrivateAttr(default=None)

    @classmethod
    def of(cls, row: int, field: str, msgid: str, **params: object) -> "RowError":
        """The error with `message` = `msgid % params`, keeping both apart for the pages."""
        error = cls(row=row, field=field, message=msgid % params if params else msgid)
        error._msgid, error._params = msgid, params
        return error

    @classmethod
    def invalid(cls, row: int, detail: ErrorDetails) -> "RowError":
        """A value pydantic refused: its English `msg`, the details kept for the pages."""
        field = ".".join(str(p) for p in detail["loc"]) or "row"
        error = cls(row=row, field=field, message=detail["msg"])
        error._detail = detail
        return error

    @property
    def detail(self) -> ErrorDetails | None:
        return self._detail

    @property
    def msgid(self) -> str:
        return self._msgid or self.message

    @property
    def params(self) -> dict[str, object]:
        return self._params


class ImportResult(SQLModel):
    dry_run: bool
    rows: int
    imported: int
    errors: list[RowError]


def _rows_csv(data: bytes) -> Iterator[dict[str, Any]]:
    yield from csv.DictReader(io.StringIO(decode_csv(data)))


def _rows_xlsx(data: bytes) -> Iterator[dict[str, Any]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a bad file
        raise InvalidInput(
            "not a readable XLSX file: %(error)s", error=str(err) or type(err).__name__
        ) from err
    rows = book.active.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
    for values in rows:
        if values is None or all(v is None for v in values):
            continue
        yield dict(zip(header, values, strict=False))


def read_rows(data: bytes, fmt: str) -> list[dict[str, Any]]:
    """The rows of a CSV (UTF-8 or GBK/GB18030, server/domain/import_values.py) or XLSX file as
    {header: value}; at most MAX_ROWS."""
    rows = list(_rows_xlsx(data) if fmt == "xlsx" else _rows_csv(data))
    if len(rows) > MAX_ROWS:
        raise InvalidInput("at most %(max)s rows per import", max=MAX_ROWS)
    return rows


def clean(raw: dict[str, Any], columns: list[str] = COLUMNS) -> dict[str, Any]:
    """The row's `columns` that hold something: text stripped; a column named `*date` as YYYY-MM-DD from
    whatever Excel wrote (server/domain/import_values.py), other dates too."""
    out: dict[str, Any] = {}
    for key in columns:
        value = raw.get(key)
        if key.endswith("date") or isinstance(value, date):
            value = as_iso_date(value)
        if isinstance(value, str):
            value = value.strip()
        if value not in (None, ""):
            out[key] = value
    return out


def _validate(session: Session, rows: list[dict[str, Any]]) -> tuple[list[WorkOrderCreate], list[RowError]]:
    products = set(session.exec(select(Product.code)).all())
    customers = set(session.exec(select(Customer.code)).all())
    numbers = [str(r.get("number", "")) for r in rows]
    existing = set(session.exec(select(WorkOrder.number).where(col(WorkOrder.number).in_(numbers))).all())
    seen: set[str] = set()
    good: list[WorkOrderCreate] = []
    errors: list[RowError] = []
    for index, raw in enumerate(rows, start=2):
        try:
            body = WorkOrderCreate.model_validate(clean(raw))
        except ValidationError as err:
            errors += [RowError.invalid(index, e) for e in err.errors()]
            continue
        row_errors = _references(body, products, customers, existing, seen)
        errors += [RowError.of(index, f, msgid, **params) for f, msgid, params in row_errors]
        seen.add(body.number)
        good.append(body)
    return good, errors


def _references(
    body: WorkOrderCreate, products: set[str], customers: set[str], existing: set[str], seen: set[str]
) -> list[tuple[str, str, dict[str, object]]]:
    """(field, msgid, params) of each reference problem of a valid row."""
    problems: list[tuple[str, str, dict[str, object]]] = []
    if body.product not in products:
        problems.append(("product", Msgid("unknown product %(product)r"), {"product": body.product}))
    if body.customer is not None and body.customer not in customers:
        problems.append(("customer", Msgid("unknown customer %(customer)r"), {"customer": body.customer}))
    if body.number in existing:
        problems.append(("number", Msgid("work order %(number)s already exists"), {"number": body.number}))
    elif body.number in seen:
        problems.append(
            ("number", Msgid("work order %(number)s appears twice in the file"), {"number": body.number})
        )
    return problems


def import_orders(session: Session, actor: str, data: bytes, fmt: str, dry_run: bool) -> ImportResult:
    rows = read_rows(data, fmt)
    bodies, errors = _validate(session, rows)
    if errors or dry_run:
        return ImportResult(dry_run=dry_run, rows=len(rows), imported=0, errors=errors)
    wo.create_many(session, actor, bodies)
    return ImportResult(dry_run=False, rows=len(rows), imported=len(bodies), errors=[])


def export_rows(summaries: list[WorkOrderSummary]) -> list[list[Any]]:
    return [[getattr(s, c) for c in EXPORT_COLUMNS] for s in summaries]


def to_csv(summaries: list[WorkOrderSummary]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csv_row(EXPORT_COLUMNS))
    for row in export_rows(summaries):
        writer.writerow(
            csv_row("" if v is None else v.isoformat() if isinstance(v, date) else v for v in row)
        )
    return buffer.getvalue().encode("utf-8")


def to_xlsx(summaries: list[WorkOrderSummary]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "work orders"
    xlsx_append(sheet, EXPORT_COLUMNS)
    for row in export_rows(summaries):
        xlsx_append(sheet, row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

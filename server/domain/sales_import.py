"""CSV and XLSX import of sales orders, one row per line, by the work orders' import rules.

Columns: customer, po_number, po_date, product, quantity, due_date, unit_price, notes. Rows with the
same customer and PO number are one order, its lines numbered in file order (po_date and notes from its
first row). All or nothing: every row is validated first, any error (row number as in the file, header =
row 1; field; message) imports nothing; `dry_run` validates only.
"""

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from server.core.errors import Msgid
from server.domain import sales_orders
from server.domain.importexport import ImportResult, RowError, clean, read_rows
from server.models.catalog import Customer, Product
from server.models.sales import SalesLineCreate, SalesOrder, SalesOrderCreate

COLUMNS = ["customer", "po_number", "po_date", "product", "quantity", "due_date", "unit_price", "notes"]
HEAD = ("customer", "po_number", "po_date", "notes")


def _existing(session: Session) -> set[tuple[str, str]]:
    stmt = select(Customer.code, SalesOrder.po_number).join(
        SalesOrder, col(SalesOrder.customer_id) == col(Customer.id)
    )
    return {(c, p) for c, p in session.exec(stmt).all()}


def _validate(session: Session, rows: list[dict[str, Any]]) -> tuple[list[SalesOrderCreate], list[RowError]]:
    products = set(session.exec(select(Product.code)).all())
    customers = set(session.exec(select(Customer.code)).all())
    existing = _existing(session)
    orders: dict[tuple[str, str], SalesOrderCreate] = {}
    errors: list[RowError] = []
    for index, raw in enumerate(rows, start=2):
        row = clean(raw, COLUMNS)
        head = {k: row[k] for k in HEAD if k in row}
        try:
            order = SalesOrderCreate.model_validate(head | {"lines": [{"product": "-", "quantity": 1}]})
            body = SalesLineCreate.model_validate({k: v for k, v in row.items() if k not in HEAD})
        except ValidationError as err:
            errors += [RowError.invalid(index, e) for e in err.errors() if e["loc"][:1] != ("lines",)]
            continue
        key = (order.customer, order.po_number)
        problems = [
            ("customer", Msgid("unknown customer %(customer)r"), {"customer": key[0]},
             key[0] not in customers),
            ("product", Msgid("unknown product %(product)r"), {"product": body.product},
             body.product not in products),
            ("po_number", Msgid("customer %(customer)s already has PO %(po)s"),
             {"customer": order.customer, "po": order.po_number}, key in existing),
        ]  # fmt: skip
        errors += [
            RowError.of(index, field, msgid, **params) for field, msgid, params, bad in problems if bad
        ]
        if key in orders:
            orders[key].lines.append(body)
        else:
            orders[key] = order.model_copy(update={"lines": [body]})
    return list(orders.values()), errors


def import_sales_orders(session: Session, actor: str, data: bytes, fmt: str, dry_run: bool) -> ImportResult:
    rows = read_rows(data, fmt)
    bodies, errors = _validate(session, rows)
    if errors or dry_run:
        return ImportResult(dry_run=dry_run, rows=len(rows), imported=0, errors=errors)
    sales_orders.create_many(session, actor, bodies)
    return ImportResult(dry_run=False, rows=len(rows), imported=len(rows), errors=[])

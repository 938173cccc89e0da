"""CSV and XLSX import of customers and of products with their routings, by the work orders' import rules
(UTF-8 or GBK, Excel's numbers; every row checked first: row, field, message; any error imports nothing;
`dry_run` checks only).

Customers: columns code, name, contact. Products: one row per routing step, columns product_code,
product_name, unit, step_no, step_name, machine_kind, ideal_cycle_s, station (a station's code); a
product's name and unit come from its first row."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from server.core.errors import Msgid
from server.domain import catalog, crud
from server.domain.importexport import ImportResult, RowError, clean, read_rows
from server.models.catalog import Customer, CustomerCreate, Product, ProductCreate, RoutingStepCreate
from server.models.plant import Station

CUSTOMER_COLUMNS = ["code", "name", "contact"]
Importer = Callable[[Session, str, bytes, str, bool], ImportResult]
PRODUCT_COLUMNS = ["product_code", "product_name", "unit", "step_no", "step_name", "machine_kind",
                   "ideal_cycle_s", "station"]  # fmt: skip


def import_customers(session: Session, actor: str, data: bytes, fmt: str, dry_run: bool) -> ImportResult:
    rows = read_rows(data, fmt)
    taken = set(session.exec(select(Customer.code)).all())
    good: list[Customer] = []
    errors: list[RowError] = []
    for index, raw in enumerate(rows, start=2):
        try:
            body = CustomerCreate.model_validate(clean(raw, CUSTOMER_COLUMNS))
        except ValidationError as err:
            errors += [RowError.invalid(index, e) for e in err.errors()]
            continue
        if body.code in taken:
            errors.append(
                RowError.of(index, "code", Msgid("customer %(code)s already exists"), code=body.code)
            )
        taken.add(body.code)
        good.append(Customer.model_validate(body))
    if errors or dry_run:
        return ImportResult(dry_run=dry_run, rows=len(rows), imported=0, errors=errors)
    for customer in good:
        crud.create(session, actor, customer)
    return ImportResult(dry_run=False, rows=len(rows), imported=len(good), errors=[])


@dataclass
class _Product:
    first_row: int
    fields: dict[str, Any]
    steps: list[RoutingStepCreate] = field(default_factory=list)


def import_products(session: Session, actor: str, data: bytes, fmt: str, dry_run: bool) -> ImportResult:
    rows = read_rows(data, fmt)
    products, errors = _products(session, rows)
    if errors or dry_run:
        return ImportResult(dry_run=dry_run, rows=len(rows), imported=0, errors=errors)
    for body in products:
        catalog.create_product(session, actor, body)
    return ImportResult(dry_run=False, rows=len(rows), imported=len(products), errors=[])


def _products(session: Session, rows: list[dict[str, Any]]) -> tuple[list[ProductCreate], list[RowError]]:
    taken = set(session.exec(select(Product.code)).all())
    stations = {code: id_ for code, id_ in session.exec(select(Station.code, Station.id))}
    grouped: dict[str, _Product] = {}
    errors: list[RowError] = []
    for index, raw in enumerate(rows, start=2):
        row = clean(raw, PRODUCT_COLUMNS)
        code = str(row.get("product_code", ""))
        if not code:
            errors.append(RowError.of(index, "product_code", Msgid("a product code is required")))
            continue
        if code in taken:
            errors.append(
                RowError.of(index, "product_code", Msgid("product %(code)s already exists"), code=code)
            )
            continue
        product = grouped.setdefault(code, _Product(index, {"code": code, "name": row.get("product_name", ""),
                                                            "unit": row.get("unit", "pcs")}))  # fmt: skip
        if "step_no" not in row:
            continue  # a product without routing, or its header row
        station = str(row.get("station", ""))
        if station and station not in stations:
            errors.append(RowError.of(index, "station", Msgid("unknown station %(code)s"), code=station))
        values = {
            "step_no": row["step_no"], "name": row.get("step_name", ""), "station_id": stations.get(station),
            "machine_kind": row.get("machine_kind"), "ideal_cycle_s": row.get("ideal_cycle_s"),
        }  # fmt: skip
        try:
            step = RoutingStepCreate.model_validate(values)
        except ValidationError as err:
            errors += [RowError.invalid(index, e) for e in err.errors()]
            continue
        if any(s.step_no == step.step_no for s in product.steps):
            errors.append(RowError.of(index, "step_no", Msgid("step %(step)s of %(code)s is there twice"),
                                      step=step.step_no, code=code))  # fmt: skip
        product.steps.append(step)
    good: list[ProductCreate] = []
    for product in grouped.values():
        try:
            good.append(ProductCreate.model_validate(product.fields | {"routing": product.steps}))
        except ValidationError as err:
            errors += [RowError.invalid(product.first_row, e) for e in err.errors()]
    return good, errors

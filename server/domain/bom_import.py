"""BOM import from CSV or XLSX: columns product, version (default 1), step_no, material, quantity_per_part,
unit (default pcs), scrap_allowance (default 0), with_scrap (default true). Each (product, version) in the
file replaces that version's lines. All or nothing, with row errors like the work-order import."""

from collections import defaultdict
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from server.core.errors import Msgid
from server.domain import bom
from server.domain.importexport import ImportResult, RowError, clean, read_rows
from server.models.bom import BomLineIn
from server.models.catalog import Product

COLUMNS = [
    "product",
    "version",
    "step_no",
    "material",
    "quantity_per_part",
    "unit",
    "scrap_allowance",
    "with_scrap",
]


class BomRow(BomLineIn):
    product: str


def _version(raw: dict[str, Any]) -> int | None:
    try:
        return int(raw.get("version", 1))
    except (TypeError, ValueError):
        return None


def _parse(
    rows: list[dict[str, Any]],
) -> tuple[dict[tuple[str, int], list[tuple[int, BomLineIn]]], list[RowError]]:
    groups: dict[tuple[str, int], list[tuple[int, BomLineIn]]] = defaultdict(list)
    errors: list[RowError] = []
    for index, raw in enumerate(rows, start=2):
        cleaned = clean(raw, COLUMNS)
        version = _version(cleaned)
        if version is None or version < 1:
            errors.append(RowError.of(index, "version", Msgid("version must be a whole number from 1")))
            continue
        try:
            row = BomRow.model_validate({k: v for k, v in cleaned.items() if k != "version"})
        except ValidationError as err:
            errors += [RowError.invalid(index, e) for e in err.errors()]
            continue
        groups[(row.product, version)].append((index, BomLineIn.model_validate(row.model_dump())))
    return groups, errors


def import_bom(session: Session, actor: str, data: bytes, fmt: str, dry_run: bool) -> ImportResult:
    rows = read_rows(data, fmt)
    groups, errors = _parse(rows)
    codes = {product for product, _ in groups}
    products = {p.code: p for p in session.exec(select(Product).where(col(Product.code).in_(codes))).all()}
    for (code, _version), lines in groups.items():
        if code not in products:
            errors += [
                RowError.of(i, "product", Msgid("unknown product %(product)r"), product=code)
                for i, _ in lines
            ]
            continue
        for problem in bom.check_lines(session, products[code], [line for _, line in lines]):
            errors.append(RowError.of(lines[0][0], "material", problem))
    if errors or dry_run:
        return ImportResult(dry_run=dry_run, rows=len(rows), imported=0, errors=errors)
    for (code, version), lines in groups.items():
        bom.replace(session, actor, products[code], version, [line for _, line in lines])
    session.commit()
    return ImportResult(dry_run=False, rows=len(rows), imported=len(rows), errors=[])

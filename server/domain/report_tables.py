"""Report tables and their exports: one `Table` feeds the page, the CSV and the XLSX, so they hold the same
numbers. Column labels are English msgids translated by the caller (`label` function)."""

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from server.domain.sheets import csv_row, xlsx_append

Label = Callable[[str], str]
KINDS = ("text", "label", "int", "hours", "minutes", "pct", "num")  # label: a msgid value, translated


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str  # English msgid
    kind: str = "text"  # one of KINDS


@dataclass(slots=True)
class Table:
    name: str
    title: str  # English msgid
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    links: list[str | None] = field(default_factory=list)  # per row: where its numbers come from
    note: str | None = None

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip([c.key for c in self.columns], row, strict=True)) for row in self.rows]


def cell_value(kind: str, value: Any) -> Any:
    """The exported value: hours/minutes/ratios rounded like the page shows them (ratios as fractions)."""
    if value is None:
        return None
    if kind == "hours":
        return round(value / 3_600_000, 2)
    if kind == "minutes":
        return round(value / 60_000, 1)
    if kind == "pct":
        return round(value, 4)
    if kind == "num":
        return round(value, 4)
    return value


def cell_text(kind: str, value: Any, undefined: str = "—") -> str:
    """What the page shows in a cell."""
    v = cell_value(kind, value)
    if v is None:
        return undefined
    if kind == "pct":
        return f"{v * 100:.1f}%"
    if kind == "hours":
        return f"{v:.2f}"
    if kind == "minutes":
        return f"{v:.1f}"
    return str(v)


def exported(kind: str, value: Any, label: Label) -> Any:
    """The value written to CSV/XLSX: rounded like the page, msgid values translated."""
    if kind == "label" and isinstance(value, str):
        return label(value)
    return cell_value(kind, value)


def to_csv(tables: Sequence[Table], label: Label) -> str:
    """CSV text: each table under its title, separated by a blank line (UTF-8 BOM added by the caller)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for i, table in enumerate(tables):
        if i:
            writer.writerow([])
        if len(tables) > 1:
            writer.writerow(csv_row([label(table.title)]))
        writer.writerow(csv_row(label(c.label) for c in table.columns))
        for row in table.rows:
            cells = [exported(c.kind, x, label) for c, x in zip(table.columns, row, strict=True)]
            writer.writerow(csv_row("" if v is None else v for v in cells))
    return out.getvalue()


def to_xlsx(tables: Sequence[Table], label: Label) -> bytes:
    """An XLSX workbook, one sheet per table; ratios as numbers with a percent format."""
    wb = Workbook()
    wb.remove(wb.active) if wb.active is not None else None
    for table in tables:
        ws = wb.create_sheet(title=table.name[:31])
        xlsx_append(ws, [label(c.label) for c in table.columns])
        for row in table.rows:
            xlsx_append(ws, [exported(c.kind, x, label) for c, x in zip(table.columns, row, strict=True)])
        for j, col in enumerate(table.columns, start=1):
            letter = get_column_letter(j)
            ws.column_dimensions[letter].width = max(10, len(label(col.label)) * 2)
            fmt = {"pct": "0.0%", "hours": "0.00", "minutes": "0.0"}.get(col.kind)
            if fmt:
                for cell in ws[letter][1:]:
                    cell.number_format = fmt
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

"""Spreadsheet cells that open safely in Excel, WPS and LibreOffice (formula injection, CWE-1236).

A text cell starting with `= + - @`, a tab or a carriage return (or the full-width `＝ ＋ － ＠`, which
WPS and Excel's IME input treat alike) can run as a formula when a CSV is opened. Every CSV the project
writes goes through `csv_row` (such text gets a leading `'`, shown as text by the spreadsheet) and every XLSX
row through `xlsx_append` (strings are always text cells, data type 's', never formulas). Numbers stay
numbers: a negative quantity is not text. See docs/reliability.md (exports).
"""

from collections.abc import Iterable
from typing import Any

from openpyxl.worksheet.worksheet import Worksheet

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def csv_cell(value: Any) -> Any:
    """`value` for a CSV cell: text that a spreadsheet could take for a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]


def xlsx_append(sheet: Worksheet, values: Iterable[Any]) -> None:
    """Append a row whose strings are text cells, whatever they start with (openpyxl would make a string
    starting with `=` a formula)."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"

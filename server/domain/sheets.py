"""Spreadsheet cells that open safely in Excel, WPS and LibreOffice (formula injection, CWE-1236).

A text cell starting with `= + - @`, a tab or a carriage return (or the full-width `＝ ＋ － ＠`, which
WPS and Excel's IME input treat alike) can run as a formula when a CSV is opened. Every CSV the project
writes goes through `csv_row` (such text gets a leading `'`, shown as text by the spreadsheet) and every XLSX
row through `xlsx_append` (strings are always text cells, data type 's', never formulas). Numbers stay
numbers: a negative quantity is not text. See docs/reliability.md (exports).
"""

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import Cell
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
    starting with `=` a formula). The cells are made before appending: finding the last row afterwards
    (`max_row`) scans every cell, which made a sheet of n rows cost n squared."""
    sheet.append([_text_cell(sheet, v) if isinstance(v, str) else v for v in values])


def _text_cell(sheet: Worksheet, value: str) -> Cell:
    cell = Cell(sheet, value=value)
    cell.data_type = "s"
    return cell

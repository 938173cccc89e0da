"""What spreadsheets from Chinese and English Excel hold: CSV text in UTF-8 (with or without BOM) or
GBK/GB18030 ("ANSI" on a Chinese Windows), and dates the way Excel writes them in zh and en locales.

Decodings are tried strictly in that order: UTF-8 rarely decodes text that is not UTF-8, and GB18030 is a
superset of GBK and GB2312. A file in another legacy code page (e.g. Western cp1252) is not detected."""

import re
from datetime import date, datetime, timedelta
from typing import Any

from server.core.errors import InvalidInput

ENCODINGS = ("utf-8-sig", "gb18030")
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's 1900 leap-year bug included)
_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_MDY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:\s.*)?$")


def decode_csv(data: bytes) -> str:
    """The CSV's text in the first encoding that decodes every byte; else InvalidInput naming them."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("the CSV file is neither UTF-8 nor GBK/GB18030; save it as CSV UTF-8 and try again")


def as_iso_date(value: Any) -> Any:
    """A date cell as YYYY-MM-DD: a datetime or date, an Excel serial number (an XLSX cell without a date
    format), `2026-12-25`, `2026/12/25`, `2026.12.25`, `2026年12月25日`, `12/25/2026` (en-US) or
    `25/12/2026` (day first when the first number cannot be a month). Anything else is returned as it was,
    for the model's own validation to name."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        return (EXCEL_EPOCH + timedelta(days=int(value))).isoformat()
    if not isinstance(value, str):
        return value
    text = value.strip()
    if match := _YMD.match(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _MDY.match(text):
        first, second, year = (int(g) for g in match.groups())
        month, day = (second, first) if first > 12 else (first, second)
    else:
        return value
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return value

"""Encodings and date formats Chinese and English Excel write (server/domain/import_values.py)."""

from datetime import datetime

import pytest

from server.core.errors import InvalidInput
from server.domain.import_values import as_iso_date, decode_csv

TEXT = "number,customer\nWO-1,苏州精工\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_text_in_each_encoding(encoding: str) -> None:
    assert decode_csv(TEXT.encode(encoding)) == TEXT


def test_undecodable_csv_named() -> None:
    with pytest.raises(InvalidInput, match="neither UTF-8 nor GBK"):
        decode_csv(b"number\n\x81\x20\xff\n")


@pytest.mark.parametrize(
    "written",
    ["2026-12-25", "2026/12/25", "2026.12.25", "2026年12月25日", "2026 年 12 月 25 日", "12/25/2026",
     "25/12/2026", "2026/12/25 0:00", "2026-12-25T00:00:00", 46381, 46381.0, datetime(2026, 12, 25, 8)],
)  # fmt: skip
def test_excel_dates(written: object) -> None:
    assert as_iso_date(written) == "2026-12-25"


def test_short_dates_and_non_dates() -> None:
    assert as_iso_date("2026/1/5") == "2026-01-05" and as_iso_date("1/5/2026") == "2026-01-05"
    for kept in ("2026/13/40", "soon", "", None, True):
        assert as_iso_date(kept) == kept

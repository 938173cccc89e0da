"""Printable labels as PDF: a QR code (vector, drawn module by module from segno's matrix) beside a few
lines of text, on 60 x 40 mm thermal labels (one per page) or on A4 sheets of 3 x 8 labels of 70 x 37 mm.

Chinese text needs a CJK font: the first of `CJK_FONTS` found is embedded (Debian's fonts-wqy-microhei, which
deploy/debian-deps.sh installs, or Noto CJK); without one, text outside Latin-1 prints as "?" and a warning
is logged once. No queries here: `server/domain/label_data.py` says what goes on a label.
"""

import logging
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import segno
from fpdf import FPDF

log = logging.getLogger(__name__)
LabelFormat = Literal["thermal", "a4"]
CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
THERMAL = (60.0, 40.0)  # mm
A4_GRID = (3, 8, 70.0, 37.0)  # columns, rows, label width and height (mm): 210 x 296 mm
MAX_LABELS = 500


@dataclass(frozen=True)
class Label:
    title: str  # e.g. "批次 Lot"
    code: str  # big, under the title
    qr: str  # what the QR code holds (a URL a tablet opens)
    lines: list[str] = field(default_factory=list)


@cache
def cjk_font() -> Path | None:
    found = next((p for p in CJK_FONTS if p.is_file()), None)
    if found is None:
        log.warning("no CJK font found (%s): labels print Chinese as '?'", ", ".join(map(str, CJK_FONTS)))
    return found


class _Pdf(FPDF):
    def __init__(self, size: tuple[float, float] | str) -> None:
        super().__init__(unit="mm", format=size)  # type: ignore[arg-type]
        self.set_auto_page_break(False)
        self.set_margins(0, 0, 0)
        font = cjk_font()
        self.family = "Helvetica"
        if font is not None:
            self.add_font("cjk", fname=str(font))
            self.family = "cjk"

    def text_safe(self, text: str) -> str:
        return text if self.family == "cjk" else text.encode("latin-1", "replace").decode("latin-1")


def _qr(pdf: _Pdf, data: str, x: float, y: float, size: float) -> None:
    """The QR code as filled squares, `size` mm wide including a 2-module quiet zone."""
    matrix = [list(row) for row in segno.make(data, error="m").matrix]
    modules = len(matrix) + 4
    unit = size / modules
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                pdf.rect(x + (c + 2) * unit, y + (r + 2) * unit, unit, unit, style="F")


def _draw(pdf: _Pdf, label: Label, x: float, y: float, w: float, h: float) -> None:
    pad = 2.0
    qr_size = min(h - 2 * pad, w * 0.5)
    _qr(pdf, label.qr, x + pad, y + (h - qr_size) / 2, qr_size)
    left, width = x + 2 * pad + qr_size, w - 3 * pad - qr_size
    pdf.set_xy(left, y + pad)
    pdf.set_font(pdf.family, size=7)
    pdf.cell(width, 3.5, pdf.text_safe(label.title))
    pdf.set_xy(left, y + pad + 4)
    pdf.set_font(pdf.family, size=11 if len(label.code) <= 12 else 8)
    pdf.cell(width, 5, pdf.text_safe(label.code))
    pdf.set_font(pdf.family, size=7)
    for i, line in enumerate(label.lines[: int((h - 12) // 3.6)]):
        pdf.set_xy(left, y + pad + 10 + i * 3.6)
        pdf.cell(width, 3.4, pdf.text_safe(line))


def render(labels: list[Label], fmt: LabelFormat) -> bytes:
    """The labels as one PDF: one 60 x 40 mm page each (thermal), or 24 to an A4 sheet."""
    if not 0 < len(labels) <= MAX_LABELS:
        raise ValueError(f"between 1 and {MAX_LABELS} labels per PDF")
    if fmt == "thermal":
        pdf = _Pdf(THERMAL)
        for label in labels:
            pdf.add_page()
            _draw(pdf, label, 0, 0, *THERMAL)
    else:
        pdf = _Pdf("A4")
        cols, rows, w, h = A4_GRID
        per_page = cols * rows
        for i, label in enumerate(labels):
            if i % per_page == 0:
                pdf.add_page()
            slot = i % per_page
            _draw(pdf, label, (slot % cols) * w, 0.5 + (slot // cols) * h, w, h)
    return bytes(pdf.output())

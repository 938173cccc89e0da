"""The station app's icons (the web manifest's PNGs), drawn from the favicon's design: a white "T" on the
teal rounded square of `static/favicon.svg`. Run `python -m server.web.app_icons` to redraw them into
`static/icons/`; the files are committed, so nothing is drawn at runtime (tests/web/test_station_pwa.py
checks the committed files are what this draws)."""

from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw

ICON_DIR = Path(__file__).resolve().parent / "static" / "icons"
TEAL = (15, 118, 110, 255)
WHITE = (255, 255, 255, 255)
# the favicon's "T" in its 32-unit square: the bar, then the stem
T_BAR = (6.5, 6.5, 25.5, 11.0)
T_STEM = (13.7, 11.0, 18.3, 25.5)
ICONS = {
    "station-192.png": (192, False),
    "station-512.png": (512, False),
    "station-maskable-512.png": (512, True),
}


def draw(size: int, maskable: bool) -> bytes:
    """One icon as PNG bytes. A maskable icon fills the square (the launcher cuts its own shape) and keeps
    the "T" inside the 80 % safe zone; the plain one has the favicon's rounded corners."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if maskable:
        pen.rectangle((0, 0, size, size), fill=TEAL)
    else:
        pen.rounded_rectangle((0, 0, size - 1, size - 1), radius=size * 5 // 32, fill=TEAL)
    scale = size / 32 * (0.75 if maskable else 1.0)
    offset = size * (0.125 if maskable else 0.0)
    for x0, y0, x1, y1 in (T_BAR, T_STEM):
        box = (offset + x0 * scale, offset + y0 * scale, offset + x1 * scale - 1, offset + y1 * scale - 1)
        pen.rectangle(box, fill=WHITE)
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    ICON_DIR.mkdir(exist_ok=True)
    for name, (size, maskable) in ICONS.items():
        (ICON_DIR / name).write_bytes(draw(size, maskable))


if __name__ == "__main__":
    main()

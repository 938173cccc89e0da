"""Small real images for upload tests (uploads are decoded: bytes that only look like a PNG are refused)."""

import io

from PIL import Image


def image_bytes(fmt: str, size: tuple[int, int] = (4, 3)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


TINY_PNG = image_bytes("PNG")

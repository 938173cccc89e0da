"""Uploaded files are checked by what they hold, not by their name: an image must decode (Pillow) as the
format its extension says, a PDF must start like one. An HTML page named `.png` is refused. Files are served
back with their stored type, `nosniff` and a sandboxing CSP, so a browser never runs one as a page.
See docs/reliability.md (uploads)."""

import io
import logging
import warnings

from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"}
MAX_PIXELS = 50_000_000  # larger is refused: a small file may expand to gigabytes when decoded


class NotTheType(ValueError):
    """The content is not what the name or the form says."""


def check_content(data: bytes, media_type: str) -> None:
    """Raise NotTheType unless `data` is a whole, decodable file of `media_type`."""
    if media_type == "application/pdf":
        if not data.startswith(b"%PDF-"):
            raise NotTheType("not a PDF file")
        return
    expected = FORMATS.get(media_type)
    if expected is None:
        raise NotTheType(f"{media_type} is not an accepted type")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != expected:
                    raise NotTheType(f"a {image.format} image, not {expected}")
                if image.width * image.height > MAX_PIXELS:
                    raise NotTheType("too many pixels")
                image.load()  # decode it all: a truncated or corrupt file fails here
    except NotTheType:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as err:  # fmt: skip
        raise NotTheType(f"not a {expected} image ({type(err).__name__})") from err

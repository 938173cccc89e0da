"""The station tablet as an installable app: its web manifest (the service worker is static/station-sw.js,
the icons static/icons/, drawn by app_icons.py)."""

from typing import Any

THEME = "#1b2733"  # the top bar
BACKGROUND = "#f4f5f7"  # the page (app.css --bg)
ICONS = [
    {"src": "/static/icons/station-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
    {"src": "/static/icons/station-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
    {"src": "/static/icons/station-maskable-512.png", "sizes": "512x512", "type": "image/png",
     "purpose": "maskable"},
]  # fmt: skip


def station_manifest(code: str, name: str, locale: str) -> dict[str, Any]:
    """Opens on the station's page, full screen without the browser's bars, in the page's language."""
    return {
        "id": f"/station/{code}", "name": f"Takt · {name}", "short_name": name[:12] or "Takt",
        "start_url": f"/station/{code}", "scope": "/station/", "display": "standalone",
        "orientation": "any", "lang": "zh-CN" if locale == "zh_CN" else "en",
        "background_color": BACKGROUND, "theme_color": THEME, "icons": ICONS,
    }  # fmt: skip

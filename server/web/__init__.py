"""The people's pages: station tablet, the boss's phone, admin, customer share links (server-rendered).

`router` combines every page router; `create_app` includes it and mounts `static/` at `/static`.
REPORTS' `server.web.reports.router` is included when present.
"""

import importlib
import importlib.util

from fastapi import APIRouter

from server.web.i18n import get_locale, templates

__all__ = ["get_locale", "router", "templates"]

PAGES = (
    "login",
    "share",
    "station",
    "instructions",
    "boss",
    "live",
    "admin_orders",
    "admin_setup",
    "reports",
)
router = APIRouter(include_in_schema=False)


def _include(module_name: str) -> None:
    if importlib.util.find_spec(module_name) is None:
        return
    module = importlib.import_module(module_name)
    sub = getattr(module, "router", None)
    if isinstance(sub, APIRouter):
        router.include_router(sub)


for _name in PAGES:
    _include(f"server.web.{_name}")

"""Imports on `/admin/products`: products with their routings, and customers, from CSV (UTF-8 or GBK) or
XLSX; previewed with row errors, written only when confirmed (the work orders' pattern)."""

from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile

from server.core.db import SessionDep
from server.core.i18n import N_
from server.domain import catalog_import
from server.web.admin_orders import ConfirmedUpload, Upload, import_page, upload_format
from server.web.auth import PlannerUser, SameOrigin
from server.web.errors import PageNotFound
from server.web.routing import PageRoute

router = APIRouter(route_class=PageRoute)
PAGE = "/admin/products"
IMPORTERS = {"products": catalog_import.import_products, "customers": catalog_import.import_customers}
DONE = {
    "products": N_("Imported %(n)s products with their routings."),
    "customers": N_("Imported %(n)s customers."),
}


@router.post(PAGE + "/import/{what}")
def preview(
    what: str,
    request: Request,
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    file: Annotated[UploadFile, File()],
) -> Response:
    """The preview: every row checked, nothing written; the page offers to confirm."""
    importer = _importer(what)
    data, fmt = file.file.read(), upload_format(file)
    result = importer(session, who.username, data, fmt, True)
    return import_page(request, result, PAGE, Upload(data, fmt), confirm=f"{PAGE}/import/{what}/confirm")


@router.post(PAGE + "/import/{what}/confirm")
def confirm(
    what: str,
    request: Request,
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    upload: ConfirmedUpload,
) -> Response:
    result = _importer(what)(session, who.username, upload.data, upload.fmt, False)
    return import_page(request, result, PAGE, imported=DONE[what])


def _importer(what: str) -> catalog_import.Importer:
    if what not in IMPORTERS:
        raise PageNotFound(N_("Not found"))
    return IMPORTERS[what]

"""`/admin/users/import`: users from CSV or XLSX, previewed first and written only when confirmed, like the
work-order import (server/web/admin_orders.py)."""

from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile

from server.core.db import SessionDep
from server.domain import user_import
from server.web.admin_orders import ConfirmedUpload, Upload, import_page, upload_format
from server.web.auth import AdminUser, SameOrigin
from server.web.routing import PageRoute

router = APIRouter(route_class=PageRoute)


@router.post("/admin/users/import")
def preview_users(
    request: Request,
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    file: Annotated[UploadFile, File()],
) -> Response:
    data, fmt = file.file.read(), upload_format(file)
    result = user_import.import_users(session, who.username, data, fmt, dry_run=True)
    return import_page(request, result, "/admin/users", Upload(data, fmt))


@router.post("/admin/users/import/confirm")
def import_users(
    request: Request, session: SessionDep, who: AdminUser, _origin: SameOrigin, upload: ConfirmedUpload
) -> Response:
    result = user_import.import_users(session, who.username, upload.data, upload.fmt, dry_run=False)
    return import_page(request, result, "/admin/users")

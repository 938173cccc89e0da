"""Work instructions per routing step: images and PDFs under `{data_dir}/instructions/{product}/{step}/`.

Names are sanitised (`safe_name`): no folders, no `..`, no leading dots, only letters, digits, `._-`, and an
allowed extension; the final path is checked to stay inside the instructions folder.
"""

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from server.core.db import SessionDep
from server.core.i18n import N_
from server.core.services import SettingsDep
from server.core.settings import Settings
from server.domain import tokens
from server.domain.uploads import SAFE_HEADERS, NotTheType, check_content
from server.web.auth import DEVICE_COOKIE, SESSION_COOKIE, cookie_principal
from server.web.errors import PageError, PageForbidden, PageNotFound
from server.web.routing import PageRoute

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)
ALLOWED = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
           ".webp": "image/webp", ".pdf": "application/pdf"}  # fmt: skip
_UNSAFE = re.compile(r"[^\w.\-]+")


class BadUpload(PageError):
    status = 422


class HasStep(Protocol):
    product_code: str
    step_no: int


@dataclass(frozen=True)
class Instruction:
    name: str
    url: str
    is_image: bool


def safe_name(name: str) -> str:
    """A file name safe to store: the last path part, unsafe characters replaced, allowed extension."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).lstrip(".")[-100:]
    suffix = Path(base).suffix.lower()
    if not base or suffix not in ALLOWED or base == suffix.lstrip("."):
        raise BadUpload(
            N_("file %(name)r: only %(allowed)s files with a name are accepted"),
            name=name,
            allowed=", ".join(sorted(ALLOWED)),
        )
    return base


def step_dir(web: Settings, product_code: str, step_no: int) -> Path:
    root = web.instructions_dir.resolve()
    folder = (root / _UNSAFE.sub("_", product_code).lstrip(".") / str(int(step_no))).resolve()
    if not folder.is_relative_to(root):
        raise BadUpload(N_("bad product code for a folder name"))
    return folder


def save_instruction(web: Settings, product_code: str, step_no: int, name: str, data: bytes) -> Path:
    if len(data) > web.upload_max_bytes:
        raise BadUpload(N_("file %(name)r is larger than %(max)s bytes"), name=name, max=web.upload_max_bytes)
    folder = step_dir(web, product_code, step_no)
    path = (folder / safe_name(name)).resolve()
    if not path.is_relative_to(folder):
        raise BadUpload(N_("file %(name)r: bad name"), name=name)
    try:
        check_content(data, ALLOWED[path.suffix.lower()])
    except NotTheType as err:
        log.warning("work instruction %r refused: %s", name, err)
        raise BadUpload(N_("file %(name)r is not the image or PDF its name says"), name=name) from err
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    log.info("work instruction stored: %s", path)
    return path


def list_instructions(web: Settings, job: HasStep) -> list[Instruction]:
    folder = step_dir(web, job.product_code, job.step_no)
    if not folder.is_dir():
        return []
    product = folder.parent.name
    return [
        Instruction(
            p.name,
            f"/instructions/{product}/{job.step_no}/{p.name}",
            ALLOWED[p.suffix.lower()] != "application/pdf",
        )
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in ALLOWED
    ]


def _may_view(request: Request, session: SessionDep) -> bool:
    if tokens.enrolled_tablet(session, request.cookies.get(DEVICE_COOKIE)) is not None:
        return True
    return cookie_principal(session, request, SESSION_COOKIE) is not None


@router.get("/instructions/{product}/{step_no}/{name}")
def instruction_file(
    product: str, step_no: int, name: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    if not _may_view(request, session):
        raise PageForbidden(N_("sign in or use an enrolled tablet to see work instructions"))
    try:
        folder = step_dir(settings, product, step_no)
        path = (folder / safe_name(name)).resolve()
    except BadUpload as err:
        raise PageNotFound(N_("no such instruction")) from err
    if not path.is_relative_to(folder) or not path.is_file():
        raise PageNotFound(N_("no such instruction"))
    return FileResponse(path, media_type=ALLOWED[path.suffix.lower()], headers=SAFE_HEADERS)

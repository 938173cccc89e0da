"""Label PDFs: a lot's label, a work order's finished-goods label and its job traveler, for 60 x 40 mm
thermal printers (`format=thermal`) or A4 sheets of 3 x 8 (`format=a4`); `copies` of each."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from server.api.deps import AnyRole
from server.core.db import SessionDep
from server.core.services import SettingsDep
from server.domain import label_data, labels

router = APIRouter(tags=["labels"])
Format = Annotated[labels.LabelFormat, Query(description="thermal: 60 x 40 mm; a4: 3 x 8 labels per sheet")]
Copies = Annotated[int, Query(ge=1, le=labels.MAX_LABELS)]


async def _pdf(label: labels.Label, fmt: labels.LabelFormat, copies: int, name: str) -> Response:
    body = await run_in_threadpool(labels.render, [label] * copies, fmt)
    headers = {"Content-Disposition": f'inline; filename="{name}-{fmt}.pdf"'}
    return Response(body, media_type="application/pdf", headers=headers)


@router.get("/lots/{code}/label.pdf", response_class=Response)
async def lot_label(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    _: AnyRole,
    format: Format = "thermal",
    copies: Copies = 1,
) -> Response:
    label = label_data.for_lot(session, str(settings.public_url), code)  # a finished lot: its order's label
    return await _pdf(label, format, copies, "lot")


@router.get("/work-orders/{number}/finished-label.pdf", response_class=Response)
async def finished_label(
    number: str, session: SessionDep, settings: SettingsDep, _: AnyRole, format: Format = "thermal",
    copies: Copies = 1,
) -> Response:  # fmt: skip
    label = label_data.finished_label(session, str(settings.public_url), number)
    return await _pdf(label, format, copies, "finished")


@router.get("/work-orders/{number}/traveler-label.pdf", response_class=Response)
async def traveler_label(
    number: str, session: SessionDep, settings: SettingsDep, _: AnyRole, format: Format = "thermal",
    copies: Copies = 1,
) -> Response:  # fmt: skip
    label = label_data.traveler_label(session, str(settings.public_url), number)
    return await _pdf(label, format, copies, "traveler")

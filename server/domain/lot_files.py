"""A received lot's certificate file (the supplier's 材质证明), checked by what it holds like every upload
(`server/domain/uploads.py`) and kept with the lot's receipt."""

import logging
import re
from pathlib import PurePath

from sqlmodel import Session

from server.core.errors import InvalidInput, NotFound
from server.domain import audit, crud
from server.domain.uploads import SAFE_HEADERS, NotTheType, check_content
from server.models.materials import MaterialLot
from server.models.stock import LotReceipt

log = logging.getLogger(__name__)
TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
__all__ = ["SAFE_HEADERS", "certificate", "check_certificate", "store_certificate"]


def _receipt(session: Session, code: str) -> LotReceipt:
    lot = crud.get_by(session, MaterialLot, code=code)
    receipt = session.get(LotReceipt, lot.id)
    if receipt is None:
        receipt = LotReceipt(lot_id=lot.id or 0)
    return receipt


def check_certificate(code: str, name: str, data: bytes, max_bytes: int) -> str:
    """The extension of an acceptable certificate file (a key of TYPES), else InvalidInput (its name, size or
    content)."""
    suffix = PurePath(name.replace("\\", "/")).suffix.lower()
    if suffix not in TYPES:
        raise InvalidInput("a certificate must be one of %(allowed)s", allowed=", ".join(sorted(TYPES)))
    if len(data) > max_bytes:
        raise InvalidInput("the file is larger than %(max)s bytes", max=max_bytes)
    try:
        check_content(data, TYPES[suffix])
    except NotTheType as err:
        log.warning("certificate of lot %s refused: %s", code, err)
        raise InvalidInput("the file is not the image or PDF its name says") from err
    return suffix


def store_certificate(
    session: Session, actor: str, code: str, name: str, data: bytes, max_bytes: int
) -> None:
    suffix = check_certificate(code, name, data, max_bytes)
    receipt = _receipt(session, code)
    receipt.certificate, receipt.certificate_type = data, TYPES[suffix]
    receipt.certificate_name = re.sub(r"[^\w.\-]", "_", code, flags=re.ASCII) + suffix
    session.add(receipt)
    audit.record(
        session, actor, "LotReceipt", receipt.lot_id, "certificate", {"bytes": len(data), "type": suffix}
    )
    session.commit()


def certificate(session: Session, code: str) -> tuple[str, str, bytes]:
    """(file name, media type, content) of the lot's certificate."""
    receipt = _receipt(session, code)
    if receipt.certificate is None or receipt.certificate_type is None:
        raise NotFound("lot %(lot)s has no certificate", lot=code)
    return receipt.certificate_name or code, receipt.certificate_type, receipt.certificate

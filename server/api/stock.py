"""The stock ledger: receipts, issues (领料), returns (退料), transfers, adjustments; on-hand and movements.

Every write takes an optional Idempotency-Key: a tablet's retry of the same scan moves stock once."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile, status
from sqlmodel import Session, SQLModel

from server.api.deps import AnyRole, Page, PagingDep, ShopFloor, Supervisor, make_page
from server.api.idempotent import IdempotencyKey, once_or_replay
from server.core.db import SessionDep
from server.core.services import EngineDep, SettingsDep
from server.domain import crud, idempotency, lot_files, station_scope, stock
from server.domain.principals import Principal
from server.models.stock import (
    AdjustIn,
    BalanceOut,
    IssueIn,
    MaterialTotal,
    MoveOut,
    OnHandOut,
    ReceiptIn,
    ReturnIn,
    TransferIn,
)

router = APIRouter(tags=["stock"])
Body = Any
Move = Callable[[Session, str, Any, stock.BeforeCommit], list[MoveOut]]
CREATED = {"status_code": status.HTTP_201_CREATED, "response_model": list[MoveOut]}


def _post(
    engine: Any, session: Session, who: Principal, kind: str, body: SQLModel, key: str | None, do: Move
) -> Any:
    """Do the move, once per Idempotency-Key when one is given (a replay answers the first answer)."""
    if key is None:
        return do(session, who.username, body, None)

    def work(store: idempotency.Store) -> list[MoveOut]:
        def stored(tx: Session, out: list[MoveOut]) -> None:
            store(tx, status.HTTP_201_CREATED, [m.model_dump(mode="json") for m in out])

        return do(session, who.username, body, stored)

    session.rollback()  # end the auth check's read: on SQLite it would hold what the claim needs
    payload = {"kind": kind, "body": body.model_dump(mode="json")}
    return once_or_replay(engine, session, f"stock:{kind}:{who.username}", key, payload, work)


@router.post("/stock/receipts", **CREATED)  # type: ignore[arg-type]
def receive(
    body: ReceiptIn,
    engine: EngineDep,
    session: SessionDep,
    who: ShopFloor,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    return _post(engine, session, who, "receipt", body, idempotency_key, stock.receive)


@router.post("/stock/issues", **CREATED)  # type: ignore[arg-type]
def issue(
    body: IssueIn,
    engine: EngineDep,
    session: SessionDep,
    who: ShopFloor,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    station_scope.check_order(session, who, body.work_order)
    return _post(engine, session, who, "issue", body, idempotency_key, stock.issue)


@router.post("/stock/returns", **CREATED)  # type: ignore[arg-type]
def return_(
    body: ReturnIn,
    engine: EngineDep,
    session: SessionDep,
    who: ShopFloor,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    station_scope.check_order(session, who, body.work_order)
    return _post(engine, session, who, "return", body, idempotency_key, stock.return_)


@router.post("/stock/transfers", **CREATED)  # type: ignore[arg-type]
def transfer(
    body: TransferIn,
    engine: EngineDep,
    session: SessionDep,
    who: ShopFloor,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    return _post(engine, session, who, "transfer", body, idempotency_key, stock.transfer)


@router.post("/stock/adjustments", **CREATED)  # type: ignore[arg-type]
def adjust(
    body: AdjustIn,
    engine: EngineDep,
    session: SessionDep,
    who: Supervisor,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    return _post(engine, session, who, "adjust", body, idempotency_key, stock.adjust)


@router.get("/stock/on-hand", response_model=list[MaterialTotal])
def totals(session: SessionDep, _: AnyRole) -> list[MaterialTotal]:
    """Every material's totals (at stock locations, issued to orders)."""
    return stock.totals(session)


@router.get("/stock/on-hand/{material}", response_model=OnHandOut)
def on_hand(material: str, session: SessionDep, _: AnyRole) -> OnHandOut:
    return stock.on_hand(session, material)


@router.get("/stock/moves", response_model=Page[MoveOut])
def moves(
    session: SessionDep,
    _: AnyRole,
    paging: PagingDep,
    lot: Annotated[str | None, Query(max_length=64)] = None,
    work_order: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[MoveOut]:
    rows, total = crud.page(session, stock.moves_query(lot, work_order), paging.limit, paging.offset)
    return make_page(stock.describe(session, rows), total, paging)


@router.get("/lots/{code}/stock", response_model=list[BalanceOut])
def lot_stock(code: str, session: SessionDep, _: AnyRole) -> list[BalanceOut]:
    return stock.lot_balances(session, code)


@router.put("/lots/{code}/certificate", status_code=status.HTTP_204_NO_CONTENT)
def upload_certificate(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    who: ShopFloor,
    file: Annotated[UploadFile, File(description="the supplier's certificate: PDF, PNG, JPEG, GIF or WebP")],
) -> Response:
    data = file.file.read(settings.upload_max_bytes + 1)
    lot_files.store_certificate(
        session, who.username, code, file.filename or "", data, settings.upload_max_bytes
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/lots/{code}/certificate")
def get_certificate(code: str, session: SessionDep, _: AnyRole) -> Response:
    name, media, data = lot_files.certificate(session, code)
    headers = lot_files.SAFE_HEADERS | {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type=media, headers=headers)

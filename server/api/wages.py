"""Piece rates, skill levels, wage sheets (JSON, XLSX), supervisors' adjustments, closing a pay period, and
the operator's own figure. Supervisors and the payroll clerk see every sheet; an operator only their own."""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import Response
from sqlmodel import Session, SQLModel

from server.api.deps import CurrentPrincipal, Payroll, SettingsDep, Supervisor
from server.core.db import SessionDep
from server.core.errors import Forbidden
from server.core.settings import Settings
from server.core.sitetime import SiteTime
from server.domain import pay_periods, piece_rates, wage_views, wages
from server.domain.sites import site_of, site_time
from server.models.pay import (
    AdjustmentCreate,
    PeriodClose,
    PieceRateCreate,
    PieceRatePublic,
    SkillSet,
    WageAdjustmentPublic,
    WageFlagPublic,
    WageSheetPublic,
)

router = APIRouter(tags=["wages"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DayQuery = Annotated[date | None, Query(description="a day of the pay period; default today (site time)")]


class OwnFigure(SQLModel):
    """The operator's pieces and piece pay today and in the pay period so far."""

    username: str
    today: date
    pieces_today: int
    amount_today: str
    period_start: date
    period_end: date
    pieces_period: int
    amount_period: str


class CloseRefused(SQLModel):
    detail: str
    message: str
    flags: list[WageFlagPublic]


def _period(session: Session, settings: Settings, day: date | None) -> tuple[pay_periods.Period, SiteTime]:
    local = site_time(session, settings.site)
    return pay_periods.period_of(day or local.today(), settings.pay_period_start_day, local), local


@router.post("/piece-rates", response_model=PieceRatePublic, status_code=status.HTTP_201_CREATED)
def add_piece_rate(body: PieceRateCreate, session: SessionDep, who: Payroll) -> PieceRatePublic:
    return piece_rates.public(piece_rates.add_rate(session, who.username, body), body.product)


@router.get("/piece-rates", response_model=list[PieceRatePublic])
def list_piece_rates(
    session: SessionDep, _: Payroll, product: Annotated[str | None, Query(max_length=64)] = None
) -> list[PieceRatePublic]:
    return piece_rates.rates(session, product)


@router.put("/users/{username}/skill", status_code=status.HTTP_204_NO_CONTENT)
def set_skill(username: str, body: SkillSet, session: SessionDep, who: Payroll) -> None:
    piece_rates.set_skill(session, who.username, username, body.level)


@router.get("/wages", response_model=WageSheetPublic)
def wage_sheet(
    session: SessionDep, settings: SettingsDep, who: CurrentPrincipal, day: DayQuery = None,
    username: Annotated[str | None, Query(max_length=64)] = None,
) -> WageSheetPublic:  # fmt: skip
    """The pay period's sheet (of one operator with `username`); an operator gets their own only."""
    if who.role == "operator":
        username = who.username
    elif who.role not in {"admin", "supervisor", "payroll"}:
        raise Forbidden("role %(role)r may not do this (needs one of: admin, %(roles)s)", role=who.role,
                        roles="supervisor, payroll, operator")  # fmt: skip
    period, local = _period(session, settings, day)
    return wage_views.to_public(wages.sheet(session, period, local, username))


@router.get("/wages/export", response_class=Response)
def export_wage_sheet(
    session: SessionDep, settings: SettingsDep, _: Payroll, day: DayQuery = None,
    lang: Literal["zh_CN", "en"] = "zh_CN",
) -> Response:  # fmt: skip
    period, local = _period(session, settings, day)
    site = site_of(session, settings.site)
    public = wage_views.to_public(wages.sheet(session, period, local))
    body = wage_views.to_xlsx(public, lang, site.name if site else "")
    name = f"wages-{period.start.isoformat()}.xlsx"
    return Response(body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/wages/me", response_model=OwnFigure)
def own_figure(session: SessionDep, settings: SettingsDep, who: CurrentPrincipal) -> OwnFigure:
    """The signed-in operator's own pieces and pay today and this period (the station tablet shows them)."""
    local = site_time(session, settings.site)
    mine = wages.own_figure(session, who.username, settings.pay_period_start_day, local)
    return OwnFigure(
        username=who.username, today=mine.today, pieces_today=mine.pieces_today,
        amount_today=str(piece_rates.money(mine.amount_today_e4)), period_start=mine.period.start,
        period_end=mine.period.end, pieces_period=mine.pieces_period,
        amount_period=str(piece_rates.money(mine.amount_period_e4)),
    )  # fmt: skip


@router.post("/wages/adjustments", response_model=WageAdjustmentPublic, status_code=status.HTTP_201_CREATED)
def add_adjustment(
    body: AdjustmentCreate, session: SessionDep, settings: SettingsDep, who: Supervisor
) -> WageAdjustmentPublic:
    """A line of its own (reason, author); for a day of a closed period it goes on the next open one."""
    local = site_time(session, settings.site)
    row = piece_rates.add_adjustment(session, who.username, body, settings.pay_period_start_day, local)
    return WageAdjustmentPublic(username=body.username, day=row.day, amount=piece_rates.money(row.amount_e4),
                                reason=row.reason, author=row.author, created_at=row.created_at)  # fmt: skip


@router.post(
    "/wages/close",
    response_model=WageSheetPublic,
    responses={409: {"model": CloseRefused, "description": "reports above machine counts: confirm_flags"}},
)
def close_period(
    body: PeriodClose, session: SessionDep, settings: SettingsDep, who: Payroll
) -> WageSheetPublic:
    """Lock the period holding `start` (after its last day); with reports above the machines' counts only
    with `confirm_flags` (else 409 listing them in `flags`)."""
    period, local = _period(session, settings, body.start)
    wages.close_period(session, who.username, period, local, body.confirm_flags)
    return wage_views.to_public(wages.sheet(session, period, local))

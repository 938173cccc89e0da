"""The wage sheet page `/wages` (supervisors and the payroll clerk): the pay period's summary per operator,
the flags (hand reports above machine counts) before the period closes, the daily detail and the
adjustments; printable on A4 (the reports' print layout) and downloadable as XLSX in the page's language."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse

from server.api.deps import SettingsDep
from server.core.db import SessionDep
from server.core.i18n import N_, get_locale
from server.domain import admin_lists, pay_periods, piece_rates, wage_views, wages
from server.domain.principals import Principal
from server.domain.sites import site_of, site_time
from server.models.pay import AdjustmentCreate, PieceRateCreate, WageSheetPublic
from server.web.auth import SameOrigin, page_role
from server.web.forms import done, validated
from server.web.routing import PageRoute
from server.web.templates import templates

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PayrollUser = Annotated[Principal, page_role("supervisor", "payroll")]
SupervisorOnly = Annotated[Principal, page_role("supervisor")]  # adjustments: a supervisor's word
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _sheet(session: SessionDep, settings: SettingsDep, day: date | None) -> WageSheetPublic:
    local = site_time(session, settings.site)
    period = pay_periods.period_of(day or local.today(), settings.pay_period_start_day, local)
    return wage_views.to_public(wages.sheet(session, period, local))


@router.get("/wages", response_class=HTMLResponse)
def wage_page(
    request: Request, session: SessionDep, settings: SettingsDep, _user: PayrollUser, day: date | None = None
) -> Response:
    sheet = _sheet(session, settings, day)
    site = site_of(session, settings.site)
    context = {"s": sheet, "factory": site.name if site else "", "day": (day or sheet.start).isoformat(),
               "who": _user}  # fmt: skip
    return templates.TemplateResponse(request, "wages/sheet.html", context)


@router.get("/wages/sheet.xlsx")
def wage_xlsx(
    request: Request, session: SessionDep, settings: SettingsDep, _user: PayrollUser, day: date | None = None
) -> Response:
    sheet = _sheet(session, settings, day)
    site = site_of(session, settings.site)
    lang = "zh_CN" if get_locale(request).startswith("zh") else "en"
    body = wage_views.to_xlsx(sheet, lang, site.name if site else "")
    name = f"wages-{sheet.start.isoformat()}.xlsx"
    return Response(body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/wages/adjustments")
def add_adjustment(
    session: SessionDep,
    settings: SettingsDep,
    who: SupervisorOnly,
    _origin: SameOrigin,
    username: Annotated[str, Form(max_length=64)],
    day: Annotated[str, Form(max_length=10)],
    amount: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=400)],
) -> Response:
    """A supervisor's line of its own (never an edit of the computed numbers)."""
    body = validated(AdjustmentCreate, {"username": username, "day": day, "amount": amount, "reason": reason})
    local = site_time(session, settings.site)
    piece_rates.add_adjustment(session, who.username, body, settings.pay_period_start_day, local)
    return done(f"/wages?day={body.day.isoformat()}", N_("Adjustment added"))


@router.post("/wages/close")
def close_period(
    session: SessionDep,
    settings: SettingsDep,
    who: PayrollUser,
    _origin: SameOrigin,
    start: Annotated[date, Form()],
    confirm_flags: Annotated[bool, Form()] = False,
) -> Response:
    """Lock the period (after its last day; with reports above the machines' counts only when confirmed)."""
    local = site_time(session, settings.site)
    period = pay_periods.period_of(start, settings.pay_period_start_day, local)
    wages.close_period(session, who.username, period, local, confirm_flags)
    return done(f"/wages?day={period.start.isoformat()}", N_("Pay period closed"))


@router.get("/wages/rates", response_class=HTMLResponse)
def rates_page(request: Request, session: SessionDep, who: PayrollUser) -> Response:
    """Every piece rate (with its history: a change is a new rate from a date on) and a form for a new one."""
    context = {
        "rates": piece_rates.rates(session, None),
        "skills": piece_rates.skills(session),
        "products": admin_lists.products(session),
        "who": who,
    }
    return templates.TemplateResponse(request, "wages/rates.html", context)


@router.post("/wages/rates")
def add_rate(
    session: SessionDep,
    who: PayrollUser,
    _origin: SameOrigin,
    product: Annotated[str, Form(max_length=64)],
    step_no: Annotated[int, Form(ge=1)],
    effective_from: Annotated[str, Form(max_length=10)],
    rate: Annotated[str, Form(max_length=20)],
    skill_level: Annotated[str, Form(max_length=16)] = "",
    team: Annotated[bool, Form()] = False,
    scrap_rule: Annotated[str, Form(max_length=16)] = "unpaid",
    material_share_pct: Annotated[int, Form()] = 0,
    material_reasons: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    reasons = [r.strip() for r in material_reasons.replace("，", ",").split(",") if r.strip()]
    data: dict[str, object] = {
        "product": product,
        "step_no": step_no,
        "effective_from": effective_from,
        "rate": rate,
        "skill_level": skill_level.strip(),
        "team": team,
        "scrap_rule": scrap_rule,
        "material_share_pct": material_share_pct,
        "material_reasons": reasons,
    }
    body = validated(PieceRateCreate, {k: v for k, v in data.items() if k != "skill_level"})
    piece_rates.add_rate(session, who.username, body.model_copy(update={"skill_level": skill_level.strip()}))
    return done("/wages/rates", N_("Rate added"))


@router.post("/wages/skills")
def set_skill(
    session: SessionDep,
    who: PayrollUser,
    _origin: SameOrigin,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    level: Annotated[str, Form(min_length=1, max_length=16)],
) -> Response:
    """An operator's skill level (rates may be per level)."""
    piece_rates.set_skill(session, who.username, username.strip(), level.strip())
    return done("/wages/rates", N_("Skill level saved"))

"""Piece rates (a new rate from a date on, never an edit: last month keeps its rates), operators' skill
levels and supervisors' wage adjustments, each audit-logged."""

from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from server.core.errors import Conflict
from server.core.sitetime import SiteTime
from server.domain import audit, crud, pay_periods
from server.domain.sales_orders import from_e4, to_e4
from server.models.auth import User
from server.models.catalog import Product
from server.models.pay import (
    AdjustmentCreate,
    OperatorSkill,
    PieceRate,
    PieceRateCreate,
    PieceRatePublic,
    WageAdjustment,
)


def add_rate(session: Session, actor: str, body: PieceRateCreate) -> PieceRate:
    product = crud.get_by(session, Product, code=body.product)
    rate = PieceRate(
        product_id=product.id or 0,
        step_no=body.step_no,
        effective_from=body.effective_from,
        rate_e4=to_e4(body.rate) or 0,
        skill_level=body.skill_level,
        team=body.team,
        scrap_rule=body.scrap_rule,
        material_share_pct=body.material_share_pct,
        material_reasons=",".join(body.material_reasons),
        created_by=actor,
    )
    session.add(rate)
    try:
        session.flush()
    except IntegrityError as err:
        session.rollback()
        raise Conflict(
            "a rate for this step, level and date exists already; add one from another date"
        ) from err
    audit.record(session, actor, "PieceRate", rate.id, "create", body.model_dump(mode="json"))
    session.commit()
    session.refresh(rate)
    return rate


def rates(session: Session, product: str | None) -> list[PieceRatePublic]:
    stmt = select(PieceRate, Product.code).join(Product, col(Product.id) == PieceRate.product_id)
    if product:
        stmt = stmt.where(Product.code == product)
    stmt = stmt.order_by(col(Product.code), col(PieceRate.step_no), col(PieceRate.effective_from))
    return [public(rate, code) for rate, code in session.exec(stmt).all()]


def public(rate: PieceRate, product: str) -> PieceRatePublic:
    return PieceRatePublic.model_validate(
        rate,
        update={
            "product": product,
            "rate": from_e4(rate.rate_e4),
            "material_reasons": [r for r in rate.material_reasons.split(",") if r],
        },
    )


def set_skill(session: Session, actor: str, username: str, level: str) -> None:
    user = crud.get_by(session, User, username=username)
    row = session.get(OperatorSkill, user.id) or OperatorSkill(user_id=user.id or 0, level=level)
    old, row.level = row.level, level
    session.add(row)
    audit.record(session, actor, "OperatorSkill", user.id, "set", {"level": [old, level]})
    session.commit()


def add_adjustment(
    session: Session, actor: str, body: AdjustmentCreate, start_day: int, local: SiteTime
) -> WageAdjustment:
    """A supervisor's line (reason and author kept) on the pay period holding `body.day`, or, when that one
    is closed, on the first open period after it."""
    period = pay_periods.period_of(body.day, start_day, local)
    while pay_periods.closed(session, period.start) is not None:
        period = pay_periods.next_period(period, start_day, local)
    user = crud.get_by(session, User, username=body.username)
    row = WageAdjustment(
        user_id=user.id or 0,
        period_start=period.start,
        day=body.day,
        amount_e4=to_e4(body.amount) or 0,
        reason=body.reason,
        author=actor,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "WageAdjustment", row.id, "create", body.model_dump(mode="json"))
    session.commit()
    session.refresh(row)
    return row


def money(value_e4: int) -> Decimal:
    """An amount in e4 as a decimal of cents (for the API and the sheets)."""
    return (Decimal(value_e4) / 10_000).quantize(Decimal("0.01"))


def skills(session: Session) -> list[tuple[str, str]]:
    """(username, skill level) of every operator who has one."""
    stmt = select(User.username, OperatorSkill.level).join(
        OperatorSkill, col(OperatorSkill.user_id) == User.id
    )
    return [(u, lv) for u, lv in session.exec(stmt.order_by(col(User.username))).all()]

"""The quality rules through the engine, on each database: SPC measurements out of control give one message
(and one "resolved" when the chart is back in control), an inspection due and not done gives one message
(and one "resolved" when it is recorded)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from server.domain import alert_engine
from server.domain.alert_conditions import Context
from server.models.alerts import AlertChannel, AlertMessage, AlertRule
from server.models.catalog import Product
from server.models.plant import Site
from server.models.production import Operation, WorkOrder
from server.models.quality import Characteristic, InspectionPlan, InspectionRecord, InspectionValue
from server.models.types import now_ms, utcnow

MIN = 60_000


def _setup(session: Session, kind: str) -> tuple[Site, WorkOrder, Operation]:
    site = Site(code="s1", name="Plant", timezone="Asia/Shanghai")
    product = Product(code="P", name="Shaft")
    channel = AlertChannel(name="hook", kind="webhook", lang="en", secret_box="", settings={})
    session.add_all([site, product, channel])
    session.flush()
    order = WorkOrder(number="WO-Q", quantity=500, product_id=product.id or 0, status="in_progress")
    session.add(order)
    session.flush()
    op = Operation(work_order_id=order.id or 0, step_no=10, name="turn", planned_qty=500, status="running",
                   started_ms=now_ms() - 3_600_000)  # fmt: skip
    session.add_all([op, AlertRule(name=kind, kind=kind, channel_ids=[channel.id])])
    session.commit()
    return site, order, op


def _messages(session: Session) -> list[str]:
    return [m.title for m in session.exec(select(AlertMessage).order_by(col(AlertMessage.id))).all()]


def _record(
    session: Session, order: WorkOrder, char: Characteristic, values: list[float], minute: int
) -> None:
    at = datetime(2026, 11, 23, 8, tzinfo=UTC) + timedelta(minutes=minute)
    record = InspectionRecord(plan_id=char.plan_id, work_order_id=order.id or 0, inspector="qc1", passed=True,
                              created_at=at)  # fmt: skip
    session.add(record)
    session.flush()
    session.add_all(
        InspectionValue(
            record_id=record.id or 0, characteristic_id=char.id or 0, sample_no=i, value=v, passed=True
        )
        for i, v in enumerate(values, start=1)
    )
    session.commit()


def test_an_spc_violation_alerts_once_and_resolves_when_back_in_control(engine: Engine) -> None:
    with Session(engine) as session:
        site, order, _op = _setup(session, "spc_violation")
        plan = InspectionPlan(product_id=order.product_id, name="diameters", frequency="every_n_parts",
                              frequency_n=50, sample_size=3)  # fmt: skip
        session.add(plan)
        session.flush()
        char = Characteristic(plan_id=plan.id or 0, name="D1", nominal=40.0, lsl=39.9, usl=40.1, unit="mm")
        session.add(char)
        session.commit()
        for i, base in enumerate([40.00, 40.01, 39.99, 40.00, 40.01, 40.00]):
            _record(session, order, char, [base - 0.01, base, base + 0.01], i)
        now = now_ms()
        assert alert_engine.evaluate(session, Context(site, now, "http://takt")).messages == 0  # in control
        _record(session, order, char, [40.09, 40.10, 40.11], 60)  # a subgroup beyond 3 sigma (rule 1)
        assert alert_engine.evaluate(session, Context(site, now + MIN, "http://takt")).messages == 1
        assert alert_engine.evaluate(session, Context(site, now + 2 * MIN, "http://takt")).messages == 0
        assert _messages(session) == ["SPC rule violated: D1 (1, 2)"]
        shifted = session.exec(select(InspectionRecord).order_by(col(InspectionRecord.id).desc())).first()
        assert shifted is not None
        session.exec(delete(InspectionValue).where(col(InspectionValue.record_id) == shifted.id))  # type: ignore[call-overload]
        session.commit()  # (the subgroup withdrawn as a mis-measurement: the chart is in control again)
        assert alert_engine.evaluate(session, Context(site, now + 3 * MIN, "http://takt")).resolved == 1
        assert _messages(session)[-1] == "Resolved: SPC rule violated: D1 (1, 2)"


def test_an_overdue_inspection_alerts_once_and_resolves_when_recorded(engine: Engine) -> None:
    with Session(engine) as session:
        site, order, op = _setup(session, "inspection_overdue")
        plan = InspectionPlan(product_id=order.product_id, step_no=10, name="FAI", frequency="first_article")
        session.add(plan)
        session.commit()
        now = now_ms()
        assert alert_engine.evaluate(session, Context(site, now, "http://takt")).messages == 1
        assert alert_engine.evaluate(session, Context(site, now + MIN, "http://takt")).messages == 0
        assert _messages(session) == ["Inspection overdue: inspections due"]
        session.add(InspectionRecord(plan_id=plan.id or 0, work_order_id=order.id or 0, operation_id=op.id,
                                     inspector="qc", passed=True, created_at=utcnow()))  # fmt: skip
        session.commit()
        outcome = alert_engine.evaluate(session, Context(site, now + 2 * MIN, "http://takt"))
        assert (outcome.resolved, outcome.messages) == (1, 1)

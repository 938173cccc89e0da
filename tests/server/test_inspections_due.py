"""When the tablet says an inspection is due: first article, every N parts, every N minutes."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from server.core.db import init_db, make_engine
from server.domain.inspections import inspections_due, pending_count
from server.models.catalog import Product
from server.models.production import Operation, WorkOrder
from server.models.quality import InspectionPlan, InspectionRecord
from server.models.types import now_ms, utcnow


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'due.db'}")
    init_db(eng)
    yield eng
    eng.dispose()


def _setup(session: Session, frequency: str, n: int | None) -> tuple[WorkOrder, Operation, InspectionPlan]:
    product = Product(code="P", name="Part")
    session.add(product)
    session.flush()
    order = WorkOrder(number="WO-1", quantity=500, product_id=product.id or 0, status="in_progress")
    session.add(order)
    session.flush()
    op = Operation(work_order_id=order.id or 0, step_no=10, name="turn", planned_qty=500, status="running",
                   started_ms=now_ms() - 3_600_000)  # fmt: skip
    plan = InspectionPlan(
        product_id=product.id or 0, step_no=10, name="check", frequency=frequency, frequency_n=n
    )
    session.add_all([op, plan])
    session.commit()
    return order, op, plan


def _record(
    session: Session, order: WorkOrder, op: Operation, plan: InspectionPlan, minutes_ago: int = 0
) -> None:
    created = utcnow() - timedelta(minutes=minutes_ago)
    session.add(InspectionRecord(plan_id=plan.id or 0, work_order_id=order.id or 0, operation_id=op.id,
                                 inspector="qc", passed=True, created_at=created))  # fmt: skip
    session.commit()


def _due(session: Session) -> list[str]:
    names = [d.name for d in inspections_due(session, "WO-1", 10)]
    assert pending_count(session) == (1 if names else 0)  # the boss's count agrees with the tablet's list
    return names


def test_first_article_until_recorded(engine: Engine) -> None:
    with Session(engine) as session:
        order, op, plan = _setup(session, "first_article", None)
        assert _due(session) == ["check"]
        _record(session, order, op, plan)
        assert _due(session) == []


def test_every_n_parts_counts_machine_or_manual_parts(engine: Engine) -> None:
    with Session(engine) as session:
        order, op, plan = _setup(session, "every_n_parts", 50)
        op.machine_good, op.machine_scrap = 45, 4
        session.commit()
        assert _due(session) == []  # 49 made
        op.machine_scrap = 5
        session.commit()
        assert _due(session) == ["check"]  # 50 made, no record yet
        _record(session, order, op, plan)
        assert _due(session) == []
        op.good = 100  # operators reported more than the machine counted: the larger is used
        session.commit()
        assert _due(session) == ["check"]


def test_every_n_minutes_since_the_last_check(engine: Engine) -> None:
    with Session(engine) as session:
        order, op, plan = _setup(session, "every_n_minutes", 30)
        assert _due(session) == ["check"]  # started an hour ago, never checked
        _record(session, order, op, plan, minutes_ago=40)
        assert _due(session) == ["check"]  # the last check is 40 minutes old
        _record(session, order, op, plan, minutes_ago=10)
        assert _due(session) == []

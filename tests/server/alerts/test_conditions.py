"""What each rule kind watches, on each engine: late and at-risk orders (by the order's progress, now),
offline edges past their minutes, recent data loss, a scrap rate over its limit (not on a handful of parts),
nonconformances open until closed."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from server.domain.alert_conditions import CONDITIONS, Context
from server.models.alerts import AlertRule
from server.models.catalog import Product
from server.models.ingest import CountEvent, DataLossEpisode, EdgeStatus
from server.models.plant import Machine, Site
from server.models.production import Operation, OperationRun, WorkOrder, WorkReport
from server.models.quality import Nonconformance
from server.models.shifts import Shift
from server.models.types import now_ms

MIN = 60_000


def _subjects(
    session: Session, kind: str, ctx: Context, threshold: float | None = None
) -> dict[str, float | None]:
    rule = AlertRule(name=kind, kind=kind, threshold=threshold)
    return {f.subject: f.value for f in CONDITIONS[kind](session, rule, ctx) if f.ready}


def test_orders_edges_data_loss_scrap_and_ncs(engine: Engine) -> None:
    now = now_ms()
    with Session(engine) as session:
        site = Site(code="s1", name="Plant", timezone="Asia/Shanghai")
        product = Product(code="P", name="Bolt")
        session.add_all([site, product])
        session.flush()
        today = datetime.fromtimestamp(now / 1000, ZoneInfo("Asia/Shanghai")).date()
        late = WorkOrder(number="WO-LATE", quantity=100, product_id=product.id or 0, status="released",
                         due_date=today - timedelta(days=1), count_source="manual")  # fmt: skip
        risky = WorkOrder(number="WO-RISK", quantity=1000, product_id=product.id or 0, status="in_progress",
                          due_date=today + timedelta(days=1), count_source="manual")  # fmt: skip
        fine = WorkOrder(number="WO-FINE", quantity=100, product_id=product.id or 0, status="released",
                         due_date=today + timedelta(days=30), count_source="manual")  # fmt: skip
        machine = Machine(site_id=site.id or 0, code="M1", name="Press 1")
        few = Machine(site_id=site.id or 0, code="M2", name="Press 2")
        session.add_all([late, risky, fine, machine, few])
        session.flush()
        # 10 good reported in its last hour of running: 990 to go at 10 an hour, days after tomorrow
        op = Operation(work_order_id=risky.id or 0, step_no=10, name="press", planned_qty=1000, good=10,
                       status="paused", started_ms=now - 120 * MIN, machine_id=machine.id)  # fmt: skip
        session.add(op)
        session.flush()
        run = OperationRun(
            operation_id=op.id or 0, machine_id=machine.id or 0, start_ms=now - 120 * MIN, end_ms=now
        )
        session.add(run)
        reported = now - 30 * MIN
        session.add(WorkReport(work_order_id=risky.id or 0, operation_id=op.id or 0, good=10, ts_ms=reported,
                               created_at=datetime.fromtimestamp(reported / 1000, UTC)))  # fmt: skip
        session.add_all([
            EdgeStatus(edge_id="gone", site="s1", online=False, received_ms=now - 10 * MIN),
            EdgeStatus(edge_id="blip", site="s1", online=False, received_ms=now - 1 * MIN),
            EdgeStatus(edge_id="fine", site="s1", online=True, received_ms=now - 30 * MIN),
            DataLossEpisode(edge_id="gone", site="s1", first_ms=now - 20 * MIN, last_ms=now - 5 * MIN,
                            samples={"analog": 120, "counter": 0}),
            DataLossEpisode(edge_id="old", site="s1", first_ms=now - 300 * MIN, last_ms=now - 200 * MIN,
                            samples={"analog": 7}),
            CountEvent(machine_id=machine.id or 0, ts_ms=now - MIN, good=90, scrap=10, edge_id="e", seq=1),
            CountEvent(machine_id=few.id or 0, ts_ms=now - MIN, good=1, scrap=2, edge_id="e", seq=2),
        ])  # fmt: skip
        nc = Nonconformance(description="burr", quantity=4, opened_by="qa")
        session.add(nc)
        session.commit()
        ctx = Context(site, now, "http://takt")
        assert _subjects(session, "order_late", ctx) == {"order:WO-LATE": 0.0}
        assert _subjects(session, "order_at_risk", ctx) == {"order:WO-RISK": 1.0}
        assert _subjects(session, "edge_offline", ctx, 5) == {"edge:gone": 10.0}
        assert _subjects(session, "data_loss", ctx, 60) == {"edge:gone": 120}
        midnight = int(datetime.combine(today, time(), ZoneInfo("Asia/Shanghai")).timestamp() * 1000)
        if now - MIN >= midnight:  # (no shift calendar: since the site's midnight) M2: 3 parts say little
            assert _subjects(session, "scrap_rate", ctx, 0.05) == {f"machine:M1:{midnight}": 0.1}
        assert _subjects(session, "scrap_rate", ctx, 0.2) == {}
        assert _subjects(session, "nc_opened", ctx) == {f"nc:{nc.id}": 4}
        nc.status, nc.closed_at = "closed", datetime.now(UTC)
        session.add(nc)
        session.commit()
        assert _subjects(session, "nc_opened", ctx) == {}


def test_the_scrap_rate_is_per_shift_and_a_shift_is_its_own_episode(engine: Engine) -> None:
    """Day shift 08:00-20:00, night shift 20:00-08:00 (Asia/Shanghai): the day shift's scrap does not carry
    into the night shift's rate, and each shift over the limit is its own subject (episode)."""
    zone = ZoneInfo("Asia/Shanghai")

    def at(hour: int, minute: int = 0) -> int:
        return int(datetime(2026, 12, 3, hour, minute, tzinfo=zone).timestamp() * 1000)

    with Session(engine) as session:
        site = Site(code="s1", name="Plant", timezone="Asia/Shanghai")
        session.add(site)
        session.flush()
        daily = "1,2,3,4,5,6,7"
        session.add_all([
            Shift(site_id=site.id or 0, name="Day", start_local=time(8), end_local=time(20), days=daily),
            Shift(site_id=site.id or 0, name="Night", start_local=time(20), end_local=time(8), days=daily),
        ])  # fmt: skip
        machine = Machine(site_id=site.id or 0, code="M1", name="Press 1")
        session.add(machine)
        session.flush()
        mid = machine.id or 0
        session.add_all([
            CountEvent(machine_id=mid, ts_ms=at(7, 50), good=0, scrap=50, edge_id="e", seq=1),  # night before
            CountEvent(machine_id=mid, ts_ms=at(19), good=90, scrap=10, edge_id="e", seq=2),
        ])  # fmt: skip
        session.commit()
        day = _subjects(session, "scrap_rate", Context(site, at(19, 30), "http://takt"), 0.05)
        assert day == {f"machine:M1:{at(8)}": 0.1}  # 10 of 100 in the day shift, not the night's 50
        session.add(CountEvent(machine_id=mid, ts_ms=at(20, 10), good=40, scrap=1, edge_id="e", seq=3))
        session.commit()
        night = _subjects(session, "scrap_rate", Context(site, at(20, 30), "http://takt"), 0.05)
        assert night == {}  # 1 of 41: the day shift's episode has ended
        session.add(CountEvent(machine_id=mid, ts_ms=at(21), good=0, scrap=9, edge_id="e", seq=4))
        session.commit()
        night = _subjects(session, "scrap_rate", Context(site, at(21, 30), "http://takt"), 0.05)
        assert night == {f"machine:M1:{at(20)}": 0.2}  # 10 of 50: a new episode, the night shift's

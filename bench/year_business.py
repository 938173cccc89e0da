"""The year's rows beyond production (bench/year.py): operators paid by the piece, first-article
inspections with measured values, the customer's sales orders, and material lots with their genealogy.

Every day: a sales order (PO) of one line per work order, linked to it; two raw-material lots received with
their supplier lot; each order's steps consume a raw lot and every step produces a lot the next step
consumes, the last one the finished lot (FG-...); four of every five orders also take the previous order's
finished lot in (a sub-assembly), so a finished lot traces back through up to five orders; a
first-article inspection of step 10 with two measured characteristics on the finished lot, and patrol
checks of step 20 every PATROL_N parts, PATROL_SAMPLES parts measured each (X-bar/R subgroups); every
operator's attendance at their own station, badge-in at their shift's start, out and in again around its
break, out at its end (the wage sheet's hours; half the operators on days, half on nights). The columns
are the ones the domain writes (server/domain/sales_orders.py, inspections.py, trace.py, piece_rates.py).
"""

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import insert
from sqlmodel import Session

from server.models.auth import User
from server.models.catalog import Customer, Product
from server.models.materials import LotConsumption, Material, MaterialLot
from server.models.pay import PieceRate, StationSession
from server.models.plant import Station
from server.models.production import Operation, WorkOrder
from server.models.quality import Characteristic, InspectionPlan, InspectionRecord, InspectionValue
from server.models.sales import SalesLineWorkOrder, SalesOrder, SalesOrderLine
from server.models.stock import LotReceipt

OPERATORS = 40
RAW_LOTS_PER_DAY = 2
CHAIN = 5  # orders 1-4 of every 5 take the previous order's finished lot in: genealogies 5 orders deep
PATROL_N = 100  # parts between patrol checks of step 20 (every_n_parts)
PATROL_SAMPLES = 5
HOUR_MS = 3_600_000
RATE_E4 = {10: 1200, 20: 800, 30: 500}  # 0.12, 0.08, 0.05 a good part


@dataclass(frozen=True)
class Business:
    operators: list[int]
    customer_id: int
    plan_id: int
    characteristics: list[int]
    patrol_id: int
    patrol_char: int
    stations: list[int]  # operator i's station


def setup(s: Session, product: Product, first: date, line_id: int) -> Business:
    """Operators with their stations, piece rates from the first day, an inspection plan, a customer and
    the raw material."""
    users = [User(username=f"op{i:02d}", display_name=f"Operator {i:02d}", role="operator", badge=f"B{i:03d}")
             for i in range(OPERATORS)]  # fmt: skip
    stations = [
        Station(line_id=line_id, code=f"st{i:02d}", name=f"Station {i:02d}") for i in range(OPERATORS)
    ]
    s.add_all(stations)
    customer = Customer(code="SZ-ACME", name="Suzhou Acme")
    plan = InspectionPlan(
        product_id=product.id or 0, step_no=10, name="first article", frequency="first_article"
    )
    patrol = InspectionPlan(product_id=product.id or 0, step_no=20, name="patrol", frequency="every_n_parts",
                            frequency_n=PATROL_N, sample_size=PATROL_SAMPLES)  # fmt: skip
    s.add_all([*users, customer, plan, patrol, Material(code="STEEL-40", name="Steel bar 40 mm", unit="kg")])
    s.flush()
    chars = [Characteristic(plan_id=plan.id or 0, name=name, nominal=nominal, lsl=nominal - tol,
                            usl=nominal + tol, unit="mm")
             for name, nominal, tol in (("diameter", 40.0, 0.05), ("length", 120.0, 0.2))]  # fmt: skip
    bore = Characteristic(plan_id=patrol.id or 0, name="bore", nominal=22.0, lsl=21.98, usl=22.02, unit="mm")
    s.add_all([*chars, bore])
    s.add_all([PieceRate(product_id=product.id or 0, step_no=step, effective_from=first, rate_e4=rate)
               for step, rate in RATE_E4.items()])  # fmt: skip
    s.flush()
    return Business([u.id or 0 for u in users], customer.id or 0, plan.id or 0, [c.id or 0 for c in chars],
                    patrol.id or 0, bore.id or 0, [st.id or 0 for st in stations])  # fmt: skip


def _attendance(biz: Business, day: date) -> list[dict[str, int]]:
    """Each operator's two stretches at their station in their shift (day 08-12, 13-20; night 20-24,
    01-08 the next morning, Asia/Shanghai)."""
    local0 = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000) - 8 * HOUR_MS
    stretches = {0: ((8, 12), (13, 20)), 1: ((20, 24), (25, 32))}
    return [{"user_id": user, "station_id": station, "start_ms": local0 + a * HOUR_MS,
             "end_ms": local0 + b * HOUR_MS, "expires_ms": local0 + (b + 4) * HOUR_MS}
            for i, (user, station) in enumerate(zip(biz.operators, biz.stations, strict=True))
            for a, b in stretches[i % 2]]  # fmt: skip


def day(
    s: Session, biz: Business, product: Product, day: date, orders: list[WorkOrder],
    steps: dict[int, list[Operation]], rng: random.Random,
) -> dict[str, int]:  # fmt: skip
    """The day's sales order, lots, genealogy and inspections for `orders` (their operations by order id,
    in step order); rows written by table."""
    noon = datetime(day.year, day.month, day.day, 4, tzinfo=UTC)  # 12:00 in Asia/Shanghai
    po = SalesOrder(
        customer_id=biz.customer_id, po_number=f"PO-{day:%y%m%d}", po_date=day, created_by="planner"
    )
    s.add(po)
    s.flush()
    lines = [SalesOrderLine(sales_order_id=po.id or 0, line_no=n + 1, product_id=product.id or 0,
                            quantity=order.quantity, due_date=day, unit_price_e4=35_000)
             for n, order in enumerate(orders)]  # fmt: skip
    raws = [MaterialLot(code=f"RAW-{day:%y%m%d}-{k}", material="STEEL-40", quantity=2000.0, unit="kg",
                        supplier="Baosteel", created_at=noon) for k in range(RAW_LOTS_PER_DAY)]  # fmt: skip
    s.add_all([*lines, *raws])
    s.flush()
    s.add_all([LotReceipt(lot_id=lot.id or 0, supplier_lot=f"BS{rng.randrange(10**8):08d}", received_at=noon)
               for lot in raws])  # fmt: skip
    s.execute(insert(SalesLineWorkOrder), [{"line_id": line.id, "work_order_id": order.id}
                                           for line, order in zip(lines, orders, strict=True)])  # fmt: skip
    produced: list[MaterialLot] = []
    consumed: list[dict[str, object]] = []
    records = []
    finished: MaterialLot | None = None
    for n, order in enumerate(orders):
        feed = raws[n % len(raws)]
        if finished is not None and n % CHAIN:  # a sub-assembly: the previous order's finished lot goes in
            consumed.append({"lot_id": finished.id, "operation_id": steps[order.id or 0][0].id,
                             "quantity": float(finished.quantity), "created_at": noon})  # fmt: skip
        for op in steps[order.id or 0]:
            consumed.append({"lot_id": feed.id, "operation_id": op.id, "quantity": float(order.quantity),
                             "created_at": noon})  # fmt: skip
            last = op.step_no == steps[order.id or 0][-1].step_no
            code = f"FG-{order.number[3:]}" if last else f"WIP-{order.number[3:]}-{op.step_no}"
            feed = MaterialLot(code=code, material=product.code, quantity=float(op.good), unit="pcs",
                               produced_by_operation_id=op.id, created_at=noon)  # fmt: skip
            s.add(feed)
            s.flush()
            produced.append(feed)
        finished = feed
        first_op = steps[order.id or 0][0]
        records.append(InspectionRecord(plan_id=biz.plan_id, work_order_id=order.id or 0,
                                        operation_id=first_op.id, lot_code=feed.code, inspector="zhaomin",
                                        passed=True, created_at=noon))  # fmt: skip
        records.extend(_patrols(biz, order, steps[order.id or 0][1]))
    s.execute(insert(LotConsumption), consumed)
    s.add_all(records)
    s.flush()
    values = [{"record_id": r.id, "characteristic_id": c, "sample_no": 1,
               "value": (40.0 if k == 0 else 120.0) + rng.gauss(0, 0.01), "passed": True}
              for r in records if r.plan_id == biz.plan_id
              for k, c in enumerate(biz.characteristics)]  # fmt: skip
    values += [{"record_id": r.id, "characteristic_id": biz.patrol_char, "sample_no": k + 1,
                "value": 22.0 + rng.gauss(0, 0.004), "passed": True}
               for r in records if r.plan_id == biz.patrol_id for k in range(PATROL_SAMPLES)]  # fmt: skip
    s.execute(insert(InspectionValue), values)
    sessions = _attendance(biz, day)
    s.execute(insert(StationSession), sessions)
    return {"sales_order": 1, "sales_order_line": len(lines), "materiallot": len(raws) + len(produced),
            "lotconsumption": len(consumed), "inspectionrecord": len(records),
            "inspectionvalue": len(values), "station_session": len(sessions)}  # fmt: skip


def _patrols(biz: Business, order: WorkOrder, op: Operation) -> list[InspectionRecord]:
    """Step 20's patrol checks, one every PATROL_N parts spread over the operation's run."""
    checks = (op.good + op.scrap) // PATROL_N
    run_ms = (op.ended_ms or 0) - (op.started_ms or 0)
    at = [((op.started_ms or 0) + run_ms * (k + 1) // checks) / 1000 for k in range(checks)]
    return [InspectionRecord(plan_id=biz.patrol_id, work_order_id=order.id or 0, operation_id=op.id,
                             inspector="op-patrol", passed=True, created_at=datetime.fromtimestamp(t, UTC))
            for t in at]  # fmt: skip

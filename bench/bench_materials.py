"""Materials: on-hand with 5,000 lots and a year of movements (1M ledger rows), and a lot's genealogy across
5 levels, on SQLite and PostgreSQL. Targets (issue 16): on-hand < 100 ms p95; full genealogy < 200 ms.

Data: 50 materials x 100 lots; 1,000,000 movements over 365 days (receipts, issues to 2 of 2,000 orders per
lot, returns, transfers, adjustments, consumption), each balance the exact sum of its lot's moves at that
location; and a
5-level product tree: each order consumes 3 lots of the level below and produces one lot (3^5 = 243 raw lots
under the top lot, 121 orders). Timed through the domain functions the API calls.
"""

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert
from sqlmodel import Session, select

from bench.table import Table
from server.core.db import init_db, make_engine
from server.domain import ledger, stock, trace
from server.models.catalog import Product
from server.models.materials import LotConsumption, Material, MaterialLot
from server.models.production import Operation, WorkOrder
from server.models.stock import StockBalance, StockMove

MATERIALS, LOTS_PER_MATERIAL, MOVES, ORDERS = 50, 100, 1_000_000, 2_000
LEVELS, FAN_IN = 5, 3
LOCATIONS = ["WH", "LINE-A", "LINE-B"]
START = datetime(2025, 12, 1, tzinfo=UTC)
ON_HAND_TARGET_MS, GENEALOGY_TARGET_MS = 100.0, 200.0
CHUNK = 50_000


def _master(session: Session) -> tuple[list[int], list[tuple[int, int]], list[int]]:
    """Materials, lots (id, material id) and orders (ids) for the ledger."""
    product = Product(code="BENCH", name="bench")
    session.add(product)
    session.flush()
    materials = [Material(code=f"M{i:03d}", name=f"material {i}", unit="kg") for i in range(MATERIALS)]
    session.add_all(materials)
    session.flush()
    lots = [MaterialLot(code=f"L{m.id}-{j:03d}", material=m.code, quantity=100.0)
            for m in materials for j in range(LOTS_PER_MATERIAL)]  # fmt: skip
    session.add_all(lots)
    orders = [WorkOrder(number=f"WO-tmp-{i}", quantity=100, product_id=product.id or 0, status="released")
              for i in range(ORDERS)]  # fmt: skip
    session.add_all(orders)
    session.flush()
    for order in orders:
        order.number = f"WO-{order.id:05d}"
    session.flush()
    ids = {m.code: m.id or 0 for m in materials}
    return (
        [m.id or 0 for m in materials],
        [(lot.id or 0, ids[lot.material]) for lot in lots],
        [o.id or 0 for o in orders],
    )  # an order's number is WO-{its id}


def _ledger(session: Session, lots: list[tuple[int, int]], orders: list[int]) -> int:
    """1M moves; each lot at the 3 places and issued to 2 orders of its own (as lots are: a coil goes to a
    few orders, not to all); balances summed from the moves (so the summary equals the ledger)."""
    rng = random.Random(16)
    mine = {lot_id: rng.sample(orders, 2) for lot_id, _ in lots}
    balances: dict[tuple[int, str], list[Any]] = {}
    rows: list[dict[str, Any]] = []
    seconds = 365 * 86_400
    for n in range(MOVES):
        lot_id, material_id = rng.choice(lots)
        kind = rng.choice(["receipt", "issue", "issue", "consume", "consume", "return", "transfer", "adjust"])
        at_order = kind == "consume" or (kind in {"issue", "return"} and rng.random() < 0.5)
        order_id = rng.choice(mine[lot_id]) if at_order else None
        location = ledger.order_location(f"WO-{order_id:05d}") if order_id else rng.choice(LOCATIONS)
        quantity = round(rng.uniform(-5, 10), 3)
        ts = START + timedelta(seconds=seconds * n // MOVES)
        rows.append({"ts": ts, "kind": kind, "material_id": material_id, "lot_id": lot_id,
                     "location": location, "quantity": quantity, "work_order_id": order_id,
                     "operation_id": None, "reason": None, "actor": "bench"})  # fmt: skip
        entry = balances.setdefault((lot_id, location), [material_id, order_id, 0.0])
        entry[2] += quantity
        if len(rows) == CHUNK or n == MOVES - 1:
            session.connection().execute(insert(StockMove.__table__), rows)  # type: ignore[attr-defined]
            rows = []
    session.connection().execute(insert(StockBalance.__table__), [  # type: ignore[attr-defined]
        {"lot_id": lot, "location": loc, "material_id": m, "work_order_id": wo, "quantity": round(q, 6)}
        for (lot, loc), (m, wo, q) in balances.items()
    ])  # fmt: skip
    return len(balances)


def _tree(session: Session) -> str:
    """The 5-level product tree; returns the top lot's code."""
    product = session.exec(select(Product).where(Product.code == "BENCH")).one()
    counter = iter(range(1_000_000))

    def make(level: int) -> MaterialLot:
        if level == 0:
            lot = MaterialLot(code=f"RAW-{next(counter)}", material="M000", quantity=1)
            session.add(lot)
            session.flush()
            return lot
        inputs = [make(level - 1) for _ in range(FAN_IN)]
        order = WorkOrder(
            number=f"TREE-{next(counter)}", quantity=1, product_id=product.id or 0, status="completed"
        )
        session.add(order)
        session.flush()
        op = Operation(work_order_id=order.id or 0, step_no=1, name="make", planned_qty=1)
        session.add(op)
        session.flush()
        session.add_all(
            [LotConsumption(lot_id=lot.id or 0, operation_id=op.id or 0, quantity=1) for lot in inputs]
        )
        out = MaterialLot(
            code=f"LVL{level}-{next(counter)}", material="BENCH", quantity=1, produced_by_operation_id=op.id
        )
        session.add(out)
        session.flush()
        return out

    return make(LEVELS).code


def _p95(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.quantiles(times, n=20)[18]


def _measure(engine: Engine, label: str, table: Table) -> None:
    init_db(engine)
    t0 = time.perf_counter()
    with Session(engine) as session:
        materials, lots, orders = _master(session)
        balances = _ledger(session, lots, orders)
        top = _tree(session)
        session.commit()
    table.add(f"{label}: load 1M moves, {balances:,} balances", time.perf_counter() - t0, "s")
    rng = random.Random(3)
    with Session(engine) as session:
        codes = [f"M{i:03d}" for i in range(MATERIALS)]
        some_lots = [f"L{mid}-{j:03d}" for mid in materials[:5] for j in range(5)]
        p95 = _p95(lambda: stock.on_hand(session, rng.choice(codes)), 200)
        table.add(f"{label}: on-hand of a material (100 lots, 3 places and 2 orders each), p95", p95, "ms",
                  ON_HAND_TARGET_MS, "of target")  # fmt: skip
        p95 = _p95(lambda: stock.totals(session), 50)
        table.add(f"{label}: on-hand totals of all 50 materials (5,000 lots), p95", p95, "ms",
                  ON_HAND_TARGET_MS, "of target")  # fmt: skip
        p95 = _p95(lambda: stock.lot_balances(session, rng.choice(some_lots)), 200)
        table.add(f"{label}: one lot's balances, p95", p95, "ms", ON_HAND_TARGET_MS, "of target")
        lot_id = lots[0][0]
        p95 = _p95(lambda: stock.ledger_on_hand(session, lot_id, "WH"), 50)
        table.add(f"{label}: one lot's balance recomputed from the 1M-row ledger, p95", p95, "ms",
                  ON_HAND_TARGET_MS, "of target")  # fmt: skip
        found = trace.trace(session, top, "backward")
        assert len(found.lots) == sum(FAN_IN**i for i in range(1, LEVELS + 1)), len(found.lots)
        p95 = _p95(lambda: trace.trace(session, top, "backward"), 30)
        table.add(f"{label}: genealogy of a lot, 5 levels back ({len(found.lots)} lots), p95", p95, "ms",
                  GENEALOGY_TARGET_MS, "of target")  # fmt: skip
        raw = found.lots[-1].lot
        p95 = _p95(lambda: trace.trace(session, raw, "forward"), 30)
        table.add(f"{label}: genealogy of a raw lot, 5 levels forward, p95", p95, "ms", GENEALOGY_TARGET_MS,
                  "of target")  # fmt: skip


def run() -> Table:
    table = Table("Materials: on-hand over a 1M-row ledger, 5-level genealogy")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        _measure(engine, "SQLite", table)
        engine.dispose()
    from tests.support.postgres import fresh_database

    with fresh_database() as url:
        engine = make_engine(url)
        _measure(engine, "PostgreSQL", table)
        engine.dispose()
    return table

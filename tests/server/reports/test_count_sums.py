"""The hourly count sums (`ingest_count_hour`, kept by triggers) always equal the ledger, whatever writes it,
and `count_sums` answers spans of any alignment exactly as a sum over the ledger would, on both engines."""

import random

from sqlalchemy import Engine, delete, insert, text, update
from sqlmodel import Session, col

from server.domain import count_sums
from server.models.catalog import Product
from server.models.ingest import CountEvent
from server.models.plant import Machine, Site
from server.models.production import Operation, WorkOrder

HOUR = count_sums.HOUR_MS
T0 = 1_764_547_200_000  # 2025-12-01 00:00 UTC, an hour boundary


def _plant(s: Session) -> tuple[list[int], list[int]]:
    site = Site(code="s", name="S", timezone="Asia/Kolkata")  # +5:30: local midnights are half past
    s.add(site)
    s.flush()
    machines = [Machine(site_id=site.id or 0, code=f"m{i}", name=f"m{i}") for i in range(2)]
    s.add_all(machines)
    s.flush()
    product = Product(code="p", name="P")
    s.add(product)
    s.flush()
    order = WorkOrder(number="WO-1", product_id=product.id or 0, quantity=10)
    s.add(order)
    s.flush()
    ops = [
        Operation(work_order_id=order.id or 0, step_no=10 * (i + 1), name=f"op{i}", machine_id=machines[0].id,
                  planned_qty=10)
        for i in range(2)
    ]  # fmt: skip
    s.add_all(ops)
    s.flush()
    return [m.id or 0 for m in machines], [o.id or 0 for o in ops]


def _ledger_rows(machines: list[int], ops: list[int], n: int, seed: int) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    return [
        {"machine_id": rnd.choice(machines), "operation_id": rnd.choice([*ops, None]),
         "ts_ms": T0 + rnd.randrange(0, 30 * HOUR), "good": rnd.randrange(0, 9), "scrap": rnd.randrange(0, 3),
         "kind": "increment", "edge_id": "e", "seq": i}
        for i in range(n)
    ]  # fmt: skip


def _hours_match_ledger(s: Session) -> None:
    by_hour = (
        "SELECT machine_id, ts_ms - ts_ms % 3600000, COALESCE(operation_id, 0), SUM(good), SUM(scrap) "
        "FROM ingest_count_event GROUP BY 1, 2, 3"
    )
    ledger = {(m, h, o): (g, sc) for m, h, o, g, sc in s.execute(text(by_hour)) if (g, sc) != (0, 0)}
    hours = {
        (m, h, o): (g, sc)
        for m, h, o, g, sc in s.execute(
            text("SELECT machine_id, hour_ms, operation_id, good, scrap FROM ingest_count_hour")
        )
        if (g, sc) != (0, 0)  # an hour whose ledger rows were deleted stays, summing to nothing
    }
    assert hours == ledger


def _direct(s: Session, machine: int | None, start: int, end: int) -> dict[int | None, tuple[int, int]]:
    where = "ts_ms >= :s AND ts_ms < :e" + (" AND machine_id = :m" if machine is not None else "")
    rows = s.execute(
        text(f"SELECT operation_id, SUM(good), SUM(scrap) FROM ingest_count_event WHERE {where} GROUP BY 1"),
        {"s": start, "e": end, "m": machine},
    )
    return {op: (int(g), int(sc)) for op, g, sc in rows}


def test_hour_sums_follow_every_write_to_the_ledger(both_engines: Engine) -> None:
    with Session(both_engines) as s:
        machines, ops = _plant(s)
        s.execute(insert(CountEvent), _ledger_rows(machines, ops, 400, seed=1))  # a bulk batch, as ingestion
        s.add(CountEvent(machine_id=machines[1], operation_id=ops[1], ts_ms=T0 + 5, good=3, scrap=1,
                         kind="confirmed", edge_id="e", seq=9_999))  # fmt: skip
        s.commit()
        _hours_match_ledger(s)
        s.execute(update(CountEvent).where(col(CountEvent.seq) < 50).values(operation_id=ops[0], good=1))
        s.execute(delete(CountEvent).where(col(CountEvent.seq) >= 350))
        s.commit()
        _hours_match_ledger(s)


def test_spans_of_any_alignment_sum_as_the_ledger_does(both_engines: Engine) -> None:
    with Session(both_engines) as s:
        machines, ops = _plant(s)
        s.execute(insert(CountEvent), _ledger_rows(machines, ops, 600, seed=2))
        s.commit()
        rnd = random.Random(3)
        spans = [(0, T0 + HOUR, T0 + 3 * HOUR), (1, T0 + 90 * 60_000, T0 + 12 * HOUR + 30 * 60_000),
                 (2, T0 + 10, T0 + 20 * 60_000), (3, T0 + 2 * HOUR, T0 + 2 * HOUR)]  # fmt: skip
        for k in range(4, 30):
            a, b = sorted(T0 + rnd.randrange(-HOUR, 31 * HOUR) for _ in range(2))
            spans.append((k, a, b))
        keyed = [(k * 2 + j, m, a, b) for k, a, b in spans for j, m in enumerate(machines)]
        got = {(k, op): (g, sc) for k, op, g, sc in count_sums.by_machine(s, keyed)}
        want = {
            (key, op): sums
            for key, m, a, b in keyed
            for op, sums in _direct(s, m, a, b).items()
            if sums != (0, 0)
        }
        assert {k: v for k, v in got.items() if v != (0, 0)} == want
        every = {(k, op): g for k, op, g, _ in count_sums.by_operation(s, spans)}
        assert every == {
            (k, op): g for k, a, b in spans for op, (g, _) in _direct(s, None, a, b).items() if op is not None
        }


def test_split_keeps_partial_hours_for_the_ledger() -> None:
    assert count_sums.split(T0 + 10, T0 + 20) == ([(T0 + 10, T0 + 20)], None)
    assert count_sums.split(T0, T0 + 2 * HOUR) == ([], (T0, T0 + 2 * HOUR))
    assert count_sums.split(T0 - 5, T0 + HOUR + 7) == (
        [(T0 - 5, T0), (T0 + HOUR, T0 + HOUR + 7)],
        (T0, T0 + HOUR),
    )

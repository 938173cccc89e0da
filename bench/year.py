"""A year of a factory (issue 19): what a default install holds after running a plant for `days` days.

Business rows for every day (work orders with a 3-step routing, operations, work reports by operators
paid by the piece, state segments, downtime with reasons, the count ledger, a share link, and
bench/year_business.py's sales order, lots with their genealogy and inspections) are bulk-inserted with
the same columns the domain writes. Historian rows go through `SqlHistorian.write`, the path ingestion
uses (raw points and 1-minute rollups): a 1 Hz year is 31.5e9 samples, so only `raw_minutes` of the whole
plant's live feed (report by exception as the edge sends it) are written, and the disk figures scale them
by rows per day (bench/year_run.py). One machine carries `trend_days` of history, one sample a minute, so
its 30-day trend reads real rollups. `Plan.expected` holds the numbers the normal paths must give back.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from sqlalchemy import Engine, insert
from sqlmodel import Session

from bench import year_business
from server.domain import sharelinks
from server.historian.base import Point
from server.historian.sql import SqlHistorian
from server.models.auth import ApiToken, User
from server.models.catalog import Product, ReasonCode, RoutingStep
from server.models.ingest import MachineStateSegment
from server.models.plant import Line, Machine, Site, Tag
from server.models.production import DowntimeEvent, Operation, WorkOrder, WorkReport
from server.models.shifts import Shift, ShiftBreak

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SITE = "demo"
STEPS = (10, 20, 30)
COUNTERS = ("good", "scrap", "total")
STATES = ("run", "fault", "state")
REASONS = ("material", "tooling", "maintenance", "quality")
CYCLE_S = 25.0
COUNT_EVERY_MS = 180_000  # one ledger row per 3 running minutes (the batch an edge sends per machine)
PARTS_PER_EVENT = 6
FAULT_MS = 20 * 60_000  # one 20-minute fault per machine and shift, classified with a reason
BOSS_TOKEN = "bench-year-boss-token-0123456789abcdef"


@dataclass(frozen=True)
class Plan:
    machines: int = 50
    tags: int = 20
    days: int = 365
    orders_per_day: int = 15
    quantity: int = 400
    raw_minutes: int = 10  # minutes of the whole plant's 1 Hz feed written through the historian
    trend_days: int = 30
    # the last generated day (site-local): its work reports, at the end of 20-hour operations, are dated the
    # next morning, the 30th, so a one-day database has wages in the pay period (the month) of `last` too
    last: date = date(2026, 11, 29)
    seed: int = 19

    @property
    def first(self) -> date:
        return self.last - timedelta(days=self.days - 1)


@dataclass
class Written:
    rows: dict[str, int] = field(default_factory=dict)
    share_token: str = ""
    patrol_characteristic: int = 0  # the patrol plan's measured characteristic (its SPC chart)
    # (machine code, site-local day) -> (good, scrap) from the count ledger the generator wrote
    expected: dict[tuple[str, date], tuple[int, int]] = field(default_factory=dict)
    raw_points: int = 0  # historian points of the plant's live feed for `raw_minutes`
    feed_end_ms: int = 0  # the feed's end: 8:00 the morning after the last day


def _local_ms(day: date, hour: int) -> int:
    """Asia/Shanghai (UTC+8, no DST) local `day` at `hour` as epoch ms."""
    return int(datetime.combine(day, dtime(), tzinfo=UTC).timestamp() * 1000) + (hour - 8) * HOUR_MS


def _plant(s: Session, plan: Plan) -> tuple[Site, list[Machine], Product]:
    site = Site(code=SITE, name="Year Precision", timezone="Asia/Shanghai")
    s.add(site)
    s.flush()
    for name, start, end, brk in [("day", 8, 20, (12, 13)), ("night", 20, 8, (0, 1))]:
        shift = Shift(site_id=site.id or 0, name=name, start_local=dtime(start), end_local=dtime(end),
                      days="1,2,3,4,5,6,7")  # fmt: skip
        s.add(shift)
        s.flush()
        s.add(ShiftBreak(shift_id=shift.id or 0, start_local=dtime(brk[0]), end_local=dtime(brk[1])))
    line = Line(site_id=site.id or 0, code="a", name="A")
    s.add(line)
    s.flush()
    machines = [Machine(site_id=site.id or 0, line_id=line.id, code=f"m{i:02d}", name=f"M{i:02d}",
                        ideal_cycle_s=CYCLE_S) for i in range(plan.machines)]  # fmt: skip
    s.add_all(machines)
    s.flush()
    for m in machines:
        s.add_all([Tag(machine_id=m.id or 0, name=n, role=_role(n)) for n in _tag_names(plan)])
    product = Product(code="BRK", name="Bracket")
    s.add(product)
    s.flush()
    s.add_all([RoutingStep(product_id=product.id or 0, step_no=n, name=f"step {n}") for n in STEPS])
    s.add_all([ReasonCode(kind="downtime", code=r, label_zh=r, label_en=r) for r in REASONS])
    boss = User(username="boss", display_name="Boss", role="supervisor")
    s.add(boss)
    s.flush()
    s.add(ApiToken(user_id=boss.id or 0, token_hash=_hash(BOSS_TOKEN), kind="api"))
    s.flush()
    return site, machines, product


def _hash(token: str) -> str:
    from server.domain.security import token_hash

    return token_hash(token)


def _tag_names(plan: Plan) -> list[str]:
    return [*COUNTERS, *STATES, *(f"a{i:02d}" for i in range(plan.tags - len(COUNTERS) - len(STATES)))]


def _role(name: str) -> str:
    return {"good": "good", "scrap": "scrap", "total": "total", "run": "run", "fault": "fault"}.get(
        name, "state" if name == "state" else "analog"
    )


def _machine_day(
    mid: int, day: date, rng: random.Random
) -> tuple[list[dict[str, object]], list[tuple[int, int]]]:
    """State segments of one machine over one local day (8:00 to 8:00) and the faults in it."""
    segs: list[dict[str, object]] = []
    faults = []
    t = _local_ms(day, 8)
    for shift_start in (t, t + 12 * HOUR_MS):
        brk = shift_start + 4 * HOUR_MS  # both shifts break 4 h after their start (12:00, 00:00)
        fault = shift_start + rng.randint(1, 10) * HOUR_MS
        fault = fault if fault != brk else fault + HOUR_MS
        cuts = sorted([(brk, brk + HOUR_MS, "idle"), (fault, fault + FAULT_MS, "fault")])
        at = shift_start
        for a, b, state in cuts:
            segs.append({"machine_id": mid, "state": "running", "start_ms": at, "end_ms": a})
            segs.append({"machine_id": mid, "state": state, "start_ms": a, "end_ms": b})
            at = b
        segs.append(
            {"machine_id": mid, "state": "running", "start_ms": at, "end_ms": shift_start + 12 * HOUR_MS}
        )
        faults.append((fault, fault + FAULT_MS))
    return segs, faults


def _day_rows(
    s: Session,
    plan: Plan,
    machines: list[Machine],
    product: Product,
    biz: year_business.Business,
    day: date,
    rng: random.Random,
    out: Written,
) -> list[WorkOrder]:
    segs: list[dict[str, object]] = []
    downs: list[dict[str, object]] = []
    counts: list[tuple[int, int | None, int, int, int]] = []
    orders = [WorkOrder(number=f"WO-{day:%y%m%d}-{n:02d}", product_id=product.id or 0, quantity=plan.quantity,
                        status="completed", due_date=day, customer_id=biz.customer_id)
              for n in range(plan.orders_per_day)]  # fmt: skip
    s.add_all(orders)
    s.flush()
    ops: dict[int, int] = {}  # machine id -> an operation running on it that day
    steps: dict[int, list[Operation]] = {}  # order id -> its operations in step order
    reports = []
    for n, order in enumerate(orders):
        for i, step in enumerate(STEPS):
            m = machines[(n * len(STEPS) + i) % len(machines)]
            start = _local_ms(day, 8) + n * 1_800_000
            op = Operation(work_order_id=order.id or 0, step_no=step, name=f"step {step}",
                           planned_qty=plan.quantity, machine_id=m.id, status="done", started_ms=start,
                           ended_ms=start + 20 * HOUR_MS, good=plan.quantity - 3, scrap=3,
                           machine_good=plan.quantity - 3, machine_scrap=3,
                           ideal_cycle_s=CYCLE_S)  # fmt: skip
            s.add(op)
            s.flush()
            ops[m.id or 0] = op.id or 0
            steps.setdefault(order.id or 0, []).append(op)
            operator = biz.operators[(n * len(STEPS) + i) % len(biz.operators)]
            report = WorkReport(work_order_id=order.id or 0, operation_id=op.id or 0, good=plan.quantity - 3,
                                scrap=3, scrap_reason="dimension", ts_ms=start + 20 * HOUR_MS,
                                operator_id=operator)  # fmt: skip
            reports.append(report)
    s.add_all(reports)
    for m in machines:
        mid = m.id or 0
        msegs, faults = _machine_day(mid, day, rng)
        segs += msegs
        downs += [{"machine_id": mid, "start_ms": a, "end_ms": b, "reason_code": rng.choice(REASONS),
                   "classified_by": "op", "classified_ms": b, "source": "auto"}
                  for a, b in faults]  # fmt: skip
        good = scrap = 0
        for seg in msegs:
            if seg["state"] != "running":
                continue
            for ts in range(int(seg["start_ms"]), int(seg["end_ms"]), COUNT_EVERY_MS):  # type: ignore[call-overload]
                bad = int(rng.random() < 0.2)
                counts.append((mid, ops.get(mid), ts, PARTS_PER_EVENT - bad, bad))
                good, scrap = good + PARTS_PER_EVENT - bad, scrap + bad
        out.expected[(m.code, day)] = (good, scrap)
    s.execute(insert(MachineStateSegment), segs)
    s.execute(insert(DowntimeEvent), downs)
    s.connection().exec_driver_sql(
        "INSERT INTO ingest_count_event (machine_id, operation_id, ts_ms, good, scrap, kind, edge_id, seq) "
        f"VALUES ({_marks(s)}, 'increment', 'edge-a', 1)",
        counts,  # type: ignore[arg-type]
    )
    _bump(out, {"workorder": len(orders), "operation": len(orders) * 3, "workreport": len(reports),
                "machine_state_segment": len(segs), "downtimeevent": len(downs),
                "ingest_count_event": len(counts)})  # fmt: skip
    _bump(out, year_business.day(s, biz, product, day, orders, steps, rng))
    return orders


def _work_in_progress(
    s: Session, plan: Plan, machines: list[Machine], product: Product, customer_id: int
) -> dict[str, int]:
    """What the floor holds now, as in any factory: a day's orders in progress (first step running, or
    paused on every fifth order; the others pending) and the next day's released, due after `last`. Their
    machines run with no counts: the boss page's open orders, running jobs and inspections due read them."""
    due = plan.last + timedelta(days=2)
    orders = [WorkOrder(number=f"WO-{due:%y%m%d}-{n:02d}", product_id=product.id or 0, quantity=plan.quantity,
                        status="in_progress" if n < plan.orders_per_day else "released", due_date=due,
                        customer_id=customer_id)
              for n in range(2 * plan.orders_per_day)]  # fmt: skip
    s.add_all(orders)
    s.flush()
    began = _local_ms(plan.last + timedelta(days=1), 8)
    ops = []
    for n, order in enumerate(orders):
        for i, step in enumerate(STEPS):
            started = order.status == "in_progress" and i == 0
            status = ("paused" if n % 5 == 4 else "running") if started else "pending"
            machine = machines[(n + i) % len(machines)]
            ops.append(Operation(work_order_id=order.id or 0, step_no=step, name=f"step {step}",
                                 planned_qty=plan.quantity, machine_id=machine.id, status=status,
                                 started_ms=began if started else None, ideal_cycle_s=CYCLE_S))  # fmt: skip
    s.add_all(ops)
    return {"workorder": len(orders), "operation": len(ops)}


def _marks(s: Session) -> str:
    mark = "?" if s.get_bind().dialect.name == "sqlite" else "%s"
    return ", ".join([mark] * 5)


def _bump(out: Written, counts: dict[str, int]) -> None:
    for k, v in counts.items():
        out.rows[k] = out.rows.get(k, 0) + v


def live_feed(plan: Plan, machines: list[str], end_ms: int, seconds: int, seed: int = 1) -> list[Point]:
    """What the edges send for `seconds` of the plant at 1 Hz, by exception (edge/report.py): counters on
    each increment, states on change or every 300 s, noisy analogs (no deadband) every second."""
    rng = random.Random(seed)
    names = _tag_names(plan)
    start = end_ms - seconds * 1000
    points: list[Point] = []
    for m in machines:
        count = rng.randint(0, 10_000)
        for sec in range(seconds):
            ts = start + sec * 1000
            if sec % int(CYCLE_S) == 0:
                count += 1
                points += [
                    Point(SITE, m, "good", ts, float(count)),
                    Point(SITE, m, "total", ts, float(count)),
                ]
            if sec % 300 == 0:
                points += [Point(SITE, m, n, ts, 1.0 if n == "run" else 0.0) for n in ("scrap", *STATES)]
            points += [
                Point(SITE, m, n, ts, 50.0 + rng.gauss(0, 1)) for n in names[len(COUNTERS) + len(STATES) :]
            ]
    return points


def trend_history(plan: Plan, machine: str, end_ms: int) -> list[Point]:
    """One sample a minute for `trend_days` of one machine's analogs: what its 30-day trend reads."""
    names = _tag_names(plan)[len(COUNTERS) + len(STATES) :]
    start = end_ms - plan.trend_days * DAY_MS
    return [
        Point(SITE, machine, n, ts, 50.0 + (ts // HOUR_MS) % 7)
        for ts in range(start, end_ms, 60_000)
        for n in names
    ]


def generate(engine: Engine, plan: Plan) -> Written:
    """Write `plan` into an initialised, empty database; return what was written."""
    out = Written()
    rng = random.Random(plan.seed)
    with Session(engine) as s:
        _site, machines, product = _plant(s, plan)
        biz = year_business.setup(s, product, plan.first, machines[0].line_id or 0)
        out.patrol_characteristic = biz.patrol_char
        s.commit()
        day = plan.first
        while day <= plan.last:
            orders = _day_rows(s, plan, machines, product, biz, day, rng, out)
            s.commit()
            link = sharelinks.create(s, "planner", orders[-1], 3650)
            out.share_token = link.token
            out.rows["share_link"] = out.rows.get("share_link", 0) + 1
            day += timedelta(days=1)
        _bump(out, _work_in_progress(s, plan, machines, product, biz.customer_id))
        s.commit()
        codes = [m.code for m in machines]
    end = _local_ms(plan.last + timedelta(days=1), 8)
    historian = SqlHistorian(engine)
    historian.write(trend_history(plan, codes[0], end - plan.raw_minutes * 60_000))
    feed = live_feed(plan, codes, end, plan.raw_minutes * 60)
    for i in range(0, len(feed), 50_000):
        historian.write(feed[i : i + 50_000])
    out.raw_points, out.feed_end_ms = len(feed), end
    return out

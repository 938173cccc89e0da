"""Demo data for `takt demo`: the demo plant's site, lines, stations, machines and tags, a catalog, ten work
orders in various states (five running on machines so machine counts flow into them), reason codes in
简体中文 and English, inspection plans (and a patrol plan's last ten hours of records, for SPC), a day and
a night shift every day (for OEE and the daily report), users with demo passwords, a tablet per station, a
share link.

`seed(engine, secrets, plant)` is idempotent: every row is looked up by its natural key first, so running
it again (every `takt demo` start) changes nothing but the machines' ideal cycle times (they follow
`--accel`). Orders that already exist are left as the demo left them. Tablet and share-link tokens come
from `secrets` (the demo keeps them in its data folder) because only their hashes are stored.
"""

import logging
import random
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from server.core.errors import ServerError
from server.domain import accounts, audit, catalog, first_run, operations, quality
from server.domain import workorders as wo
from server.domain.first_run import ShiftSpec
from server.domain.security import hash_secret, token_hash
from server.models.auth import ShareLink, Tablet, User
from server.models.catalog import Customer, Product, ProductCreate, ReasonCode, RoutingStepCreate
from server.models.orders import CompleteAction, OperationAction, PauseAction, WorkOrderCreate
from server.models.plant import Line, Machine, Site, Station
from server.models.production import WorkOrder
from server.models.quality import (
    CharacteristicCreate,
    InspectionPlan,
    InspectionPlanCreate,
    InspectionRecord,
    InspectionValue,
)
from server.models.shifts import Shift
from server.models.types import utcnow

log = logging.getLogger(__name__)
ACTOR = "demo-seed"
T = TypeVar("T", bound=SQLModel)

SITE = ("demo", "东莞精密五金 Dongguan Precision Parts", "Asia/Shanghai")
LINES = {"A": "A线 机加工 / Line A machining", "B": "B线 注塑 / Line B molding"}
KIND_NAMES = {
    "cnc": "数控车床 CNC lathe",
    "stamping_press": "冲床 Stamping press",
    "packaging": "包装机 Packaging",
    "injection_molding": "注塑机 Injection molding",
}
# (username, display name, role, badge, password, PIN)
USERS = [
    ("admin", "管理员 Admin", "admin", None, "takt-admin", None),
    ("boss", "陈总 Mr. Chen", "supervisor", None, "takt-boss", None),
    ("wangfang", "王芳 Wang Fang", "operator", "1001", None, "1234"),
    ("liqiang", "李强 Li Qiang", "operator", "1002", None, "5678"),
    ("zhaomin", "赵敏 Zhao Min (QC)", "inspector", "2001", "takt-qc-1", "2468"),
]
CUSTOMERS = [
    ("SZ-ACME", "苏州艾克美电器 Suzhou Acme Electric", "Ms. Zhao 赵女士"),
    ("SH-AUTO", "上海汽配 Shanghai Auto Parts", "Mr. Sun"),
    ("DE-KRAFT", "Kraft Maschinenbau GmbH", "Herr Weber"),
]
# (kind, code, 中文, English)
REASONS = [
    ("downtime", "tool_change", "换刀", "Tool change"),
    ("downtime", "changeover", "换模/换型", "Changeover"),
    ("downtime", "no_material", "缺料", "No material"),
    ("downtime", "machine_fault", "设备故障", "Machine fault"),
    ("downtime", "quality_check", "质量检验", "Quality check"),
    ("downtime", "break", "休息", "Break"),
    ("downtime", "no_operator", "无人操作", "No operator"),
    ("scrap", "burr", "毛刺", "Burr"),
    ("scrap", "dimension", "尺寸超差", "Out of tolerance"),
    ("scrap", "scratch", "划伤", "Scratch"),
    ("scrap", "short_shot", "缺胶", "Short shot"),
    ("scrap", "flash", "飞边", "Flash"),
    ("scrap", "setup_piece", "调机件", "Setup piece"),
]
# product code, name, [(step name, machine code)], first-article characteristics (name, nominal, lsl, usl)
PRODUCTS: list[tuple[str, str, list[tuple[str, str]], list[tuple[str, float, float, float]]]] = [
    ("BRKT-417", "支架 Bracket 417", [("冲压 Stamping", "press1"), ("包装 Packing", "pack1")],
     [("hole_d", 6.0, 5.95, 6.05), ("length", 48.0, 47.9, 48.1)]),
    ("SHAFT-D40", "轴 Shaft D40", [("车削 Turning", "cnc1")], [("diameter", 40.0, 39.98, 40.02)]),
    ("FLANGE-80", "法兰 Flange 80", [("车削 Turning", "cnc2")], [("bore", 80.0, 79.97, 80.03)]),
    ("CAP-28", "瓶盖 Cap 28 mm", [("注塑 Molding", "mold1")], [("weight_g", 2.8, 2.7, 2.9)]),
    ("CLIP-4", "卡扣 Clip", [("注塑 Molding", "mold2")], [("width", 12.0, 11.9, 12.1)]),
]  # fmt: skip
# number, product, customer, quantity, due in days, priority, final status, steps to start {step: machine}
ORDERS: list[tuple[str, str, str | None, int, int, int, str, dict[int, str]]] = [
    ("WO-2311-039", "FLANGE-80", "DE-KRAFT", 300, -2, 10, "completed", {1: "cnc2"}),
    ("WO-2311-040", "CLIP-4", "SH-AUTO", 8000, 5, 20, "paused", {1: "mold2"}),
    ("WO-2311-042", "BRKT-417", "SZ-ACME", 5000, 3, 90, "in_progress", {1: "press1", 2: "pack1"}),
    ("WO-2311-043", "SHAFT-D40", "SH-AUTO", 800, 2, 80, "in_progress", {1: "cnc1"}),
    ("WO-2311-044", "FLANGE-80", "DE-KRAFT", 600, 4, 70, "in_progress", {1: "cnc2"}),
    ("WO-2311-045", "CAP-28", "SZ-ACME", 2400, 6, 60, "in_progress", {1: "mold1"}),
    ("WO-2311-046", "CLIP-4", "SH-AUTO", 15000, 4, 50, "in_progress", {1: "mold2"}),
    ("WO-2311-047", "SHAFT-D40", "SH-AUTO", 1200, 9, 40, "released", {}),
    ("WO-2311-048", "CAP-28", "SZ-ACME", 3000, 14, 30, "draft", {}),
    ("WO-2311-049", "BRKT-417", None, 2000, 12, 0, "cancelled", {}),
]
SHARED_ORDER = "WO-2311-042"
ENROLL_MINUTES = 12 * 60  # the demo's tablet links: one use each, for the day the demo is shown
# the shift calendar: day and night shifts every day (OEE, the daily report's shifts, the brief)
SHIFTS = [
    ShiftSpec("早班 Day", time(8), time(20), "1,2,3,4,5,6,7", (time(12), time(12, 30))),
    ShiftSpec("夜班 Night", time(20), time(8), "1,2,3,4,5,6,7", (time(0), time(0, 30))),
]
# a patrol inspection's history (SPC has a chart from the first minute): order, plan name, subgroups of 3
PATROL = ("WO-2311-043", "巡检 Patrol SHAFT-D40", 20)


class SeedError(ServerError):
    """The demo plant or edge file is unusable, or the database refused the demo data."""


@dataclass(frozen=True)
class MachineSpec:
    code: str
    kind: str
    line: str
    cycle_time_s: float


@dataclass(frozen=True)
class DemoSecrets:
    tablet_tokens: dict[str, str]  # station code -> device token
    share_token: str


@dataclass
class SeedResult:
    created: dict[str, int] = field(default_factory=dict)
    stations: list[str] = field(default_factory=list)
    shared_order: str = SHARED_ORDER
    tags: int = 0
    enroll_codes: dict[str, str] = field(default_factory=dict)  # station -> this start's enrollment code

    def count(self, kind: str, created: bool) -> None:
        if created:
            self.created[kind] = self.created.get(kind, 0) + 1


def load_plant(path: Path) -> list[MachineSpec]:
    """The machines of a simulator plant file (simulators/plants/demo.yaml)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [
            MachineSpec(
                str(m["id"]),
                str(m.get("kind", "generic")),
                str(m.get("line", "A")),
                float(m.get("cycle_time_s", 10)),
            )
            for m in data["machines"]
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as err:
        raise SeedError(f"{path}: cannot read the plant's machines: {err}") from err


def _ensure(session: Session, model: type[T], key: dict[str, Any], **values: Any) -> tuple[T, bool]:
    """The row matching `key`, created (with `values`) and flushed when missing."""
    stmt = select(model)
    for name, value in key.items():
        stmt = stmt.where(getattr(model, name) == value)
    row = session.exec(stmt).first()
    if row is not None:
        return row, False
    row = model(**key, **values)
    session.add(row)
    session.flush()
    audit.record(session, ACTOR, model.__name__, getattr(row, "id", None), "create", audit.snapshot(row))
    return row, True


def seed_plant(
    session: Session, result: SeedResult, plant: list[MachineSpec], accel: float
) -> dict[str, int]:
    code, name, tz = SITE
    site, new = _ensure(session, Site, {"code": code}, name=name, timezone=tz)
    result.count("sites", new)
    lines: dict[str, Line] = {}
    for line_code in sorted({m.line for m in plant}):
        label = LINES.get(line_code, f"Line {line_code}")
        lines[line_code], new = _ensure(session, Line, {"site_id": site.id, "code": line_code}, name=label)
        result.count("lines", new)
    stations: dict[str, int] = {}
    for spec in plant:
        machine, new = _ensure(
            session,
            Machine,
            {"site_id": site.id, "code": spec.code},
            line_id=lines[spec.line].id,
            kind=spec.kind,
            name=f"{spec.code.upper()} {KIND_NAMES.get(spec.kind, spec.kind)}",
        )
        result.count("machines", new)
        machine.ideal_cycle_s = spec.cycle_time_s / accel  # follows --accel on every start
        session.add(machine)
        station, new = _ensure(
            session,
            Station,
            {"code": spec.code},
            line_id=lines[spec.line].id,
            name=f"{spec.code.upper()} 工位 station",
            machine_id=machine.id,
        )
        result.count("stations", new)
        stations[spec.code] = station.id or 0
    result.stations = [m.code for m in plant]
    return stations


def seed_tags(engine: Engine, result: SeedResult, edge_config: Path) -> None:
    """Bind the machines to the edge and create their tags: `takt server import-edge FILE`'s function."""
    from server.domain.edge_import import import_edge

    imported = import_edge(engine, edge_config)
    result.tags = imported.tags_created + imported.tags_updated
    if imported.tags_created:
        result.created["tags"] = imported.tags_created
    if imported.machines_created:
        raise SeedError(f"{edge_config} names machines the demo plant has not: check both files")


def seed_people(session: Session, result: SeedResult, secrets: DemoSecrets, stations: dict[str, int]) -> None:
    for username, display, role, badge, password, pin in USERS:
        existing = session.exec(select(User).where(User.username == username)).first()
        if existing is None:
            _ensure(
                session,
                User,
                {"username": username},
                display_name=display,
                role=role,
                badge=badge,
                password_hash=hash_secret(password) if password else None,
                pin_hash=hash_secret(pin) if pin else None,
            )
        result.count("users", existing is None)
    for code, station_id in stations.items():
        token = secrets.tablet_tokens.get(code)
        if token is None:
            continue
        tablet, new = _ensure(
            session,
            Tablet,
            {"name": f"tablet-{code}", "station_id": station_id},
            device_token_hash=token_hash(token),
        )
        result.count("tablets", new)
        # a fresh one-time link at every start: the banner prints it (a used one enrolled a browser already)
        result.enroll_codes[code] = accounts.new_enrollment_link(session, ACTOR, tablet, ENROLL_MINUTES)


def seed_catalog(session: Session, result: SeedResult, stations: dict[str, int]) -> None:
    for code, name, contact in CUSTOMERS:
        result.count("customers", _ensure(session, Customer, {"code": code}, name=name, contact=contact)[1])
    for kind, code, zh, en in REASONS:
        _, new = _ensure(session, ReasonCode, {"kind": kind, "code": code}, label_zh=zh, label_en=en)
        result.count("reason codes", new)
    session.commit()
    for code, name, steps, chars in PRODUCTS:
        if session.exec(select(Product).where(Product.code == code)).first() is not None:
            continue
        routing = [
            RoutingStepCreate(step_no=i, name=step, station_id=stations.get(m))
            for i, (step, m) in enumerate(steps, start=1)
        ]
        product = catalog.create_product(session, ACTOR, ProductCreate(code=code, name=name, routing=routing))
        result.count("products", True)
        plan = InspectionPlanCreate(
            product_id=product.id or 0,
            step_no=1,
            name=f"首件检验 First article {code}",
            characteristics=[
                CharacteristicCreate(
                    name=c, nominal=nom, lsl=lo, usl=hi, unit="mm" if c != "weight_g" else "g"
                )
                for c, nom, lo, hi in chars
            ],
        )
        quality.create_plan(session, ACTOR, plan)
        result.count("inspection plans", True)


def seed_orders(session: Session, result: SeedResult) -> None:
    today = date.today()
    for number, product, customer, qty, due, prio, final, starts in ORDERS:
        if session.exec(select(WorkOrder).where(WorkOrder.number == number)).first() is not None:
            continue
        body = WorkOrderCreate(
            number=number,
            product=product,
            customer=customer,
            quantity=qty,
            due_date=today + timedelta(days=due),
            priority=prio,
        )
        wo.create(session, ACTOR, body)
        result.count("work orders", True)
        if final == "draft":
            continue
        operations.release(session, ACTOR, number)
        for step, machine in sorted(starts.items()):
            _start(session, number, step, machine)
        if final in {"completed", "paused", "cancelled"}:
            if final == "cancelled":
                operations.cancel(session, ACTOR, number)
            elif final == "paused":
                operations.pause(session, ACTOR, number, PauseAction())
            else:  # the demo's history: completed as planned, whatever was counted
                operations.complete(session, ACTOR, number, CompleteAction(confirm_short=True))


def _start(session: Session, number: str, step: int, machine: str) -> None:
    try:
        operations.start(session, ACTOR, number, OperationAction(step_no=step, machine=machine))
    except ServerError as err:  # e.g. the machine is busy with an order someone started in the demo
        session.rollback()
        log.warning("demo order %s step %d not started on %s: %s", number, step, machine, err.message)


def seed_share_link(session: Session, result: SeedResult, secrets: DemoSecrets, days: int) -> None:
    order = wo.get(session, SHARED_ORDER)
    digest = token_hash(secrets.share_token)
    link = session.exec(select(ShareLink).where(ShareLink.token_hash == digest)).first()
    if link is not None and not link.revoked and link.expires_at > utcnow():
        return
    if link is None:
        link = ShareLink(
            work_order_id=order.id or 0, token_hash=digest, expires_at=utcnow(), created_by=ACTOR
        )
    link.expires_at, link.revoked = utcnow() + timedelta(days=days), False
    session.add(link)
    session.flush()
    audit.record(session, ACTOR, "ShareLink", link.id, "create", {"work_order": order.number, "days": days})
    session.commit()
    result.count("share links", True)


def seed_shifts(session: Session, result: SeedResult) -> None:
    site = session.exec(select(Site).where(Site.code == SITE[0])).one()
    if session.exec(select(Shift).where(Shift.site_id == site.id)).first() is None:
        first_run.add_shifts(session, ACTOR, site.id or 0, SHIFTS)
        result.count("shifts", True)


def seed_patrol_history(session: Session, result: SeedResult) -> None:
    """A patrol plan on the running shaft order (every 60 min, 3 samples) and its last ten hours of
    records, measured close to nominal: the SPC chart and its limits are there from the demo's start."""
    number, name, subgroups = PATROL
    order = wo.get(session, number)
    if session.exec(select(InspectionPlan).where(InspectionPlan.name == name)).first() is not None:
        return
    product = session.get(Product, order.product_id)
    _code, _name, _steps, chars = next(p for p in PRODUCTS if product is not None and p[0] == product.code)
    char_name, nominal, low, high = chars[0]
    measured = CharacteristicCreate(name=char_name, nominal=nominal, lsl=low, usl=high, unit="mm")
    body = InspectionPlanCreate(product_id=order.product_id, step_no=1, name=name,
                                frequency="every_n_minutes", frequency_n=60, sample_size=3,
                                characteristics=[measured])  # fmt: skip
    plan = quality.create_plan(session, ACTOR, body)
    characteristic = quality.characteristics(session, plan.id or 0)[0]
    noise, now = random.Random(417), utcnow()
    for k in range(subgroups, 0, -1):
        values = [round(nominal + noise.gauss(0, (high - low) / 12), 4) for _ in range(3)]
        ok = all(low <= v <= high for v in values)
        record = InspectionRecord(plan_id=plan.id or 0, work_order_id=order.id or 0, inspector="zhaomin",
                                  passed=ok, created_at=now - timedelta(minutes=30 * k))  # fmt: skip
        session.add(record)
        session.flush()
        session.add_all(
            InspectionValue(record_id=record.id or 0, characteristic_id=characteristic.id or 0, sample_no=i,
                            value=v, passed=low <= v <= high)
            for i, v in enumerate(values, start=1)
        )  # fmt: skip
    session.commit()
    result.count("patrol inspections", True)


def seed_first_article(session: Session) -> None:
    """A passed first-article inspection on the shared order (the customer's page shows it)."""
    order = wo.get(session, SHARED_ORDER)
    plan = session.exec(select(InspectionPlan).where(InspectionPlan.product_id == order.product_id)).first()
    if plan is None or plan.id is None:
        return
    if session.exec(select(InspectionRecord).where(InspectionRecord.work_order_id == order.id)).first():
        return
    values = [
        quality.ValueIn(characteristic_id=c.id or 0, value=c.nominal)
        for c in quality.characteristics(session, plan.id)
    ]
    body = quality.InspectionIn(plan_id=plan.id, work_order=SHARED_ORDER, step_no=1, values=values)
    quality.record_inspection(session, "zhaomin", body)


def seed(
    engine: Engine,
    secrets: DemoSecrets,
    plant: list[MachineSpec],
    edge_config: Path | None = None,
    accel: float = 1.0,
    share_days: int = 30,
) -> SeedResult:
    """Create whatever demo data is missing; see the module docstring."""
    result = SeedResult()
    with Session(engine) as session:
        stations = seed_plant(session, result, plant, accel)
        session.commit()
    if edge_config is not None:
        seed_tags(engine, result, edge_config)
    with Session(engine) as session:
        seed_people(session, result, secrets, stations)
        seed_catalog(session, result, stations)
        session.commit()
        seed_orders(session, result)
        seed_share_link(session, result, secrets, share_days)
        seed_first_article(session)
        seed_shifts(session, result)
        seed_patrol_history(session, result)
    log.info("demo data: %s", ", ".join(f"{n} {k}" for k, n in result.created.items()) or "already there")
    return result

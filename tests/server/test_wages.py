"""Piece-rate wage sheets, exact: a scenario with known reports, a rate changed mid-period, the three scrap
rules, per-level rates, a team rate split by hours between two operators on one machine in one shift; the
reconciliation with the machine's counts; closing a period; a late correction in the next period; the XLSX
read back by openpyxl. Every expected value below is worked out by hand in the comments."""

import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.core import clock
from server.core.settings import Settings
from server.domain import station_hours
from server.main import create_app
from server.models.auth import User
from server.models.ingest import CountEvent
from server.models.plant import Station
from server.models.production import Operation, WorkOrder
from tests.server.factory import ADMIN, Plant, add_user, build_plant, ok

SH = ZoneInfo("Asia/Shanghai")


def ms(day: int, hour: int, month: int = 12) -> int:
    return int(datetime(2026, month, day, hour, tzinfo=SH).timestamp() * 1000)


@pytest.fixture
def pay_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The app with pay periods from the 26th to the 25th."""
    with TestClient(create_app(settings.model_copy(update={"pay_period_start_day": 26}), engine=engine)) as c:
        yield c


def _rates(plant: Plant) -> None:
    rates = [
        {
            "product": "BRK-100",
            "step_no": 10,
            "effective_from": "2026-11-01",
            "rate": "0.50",
            "scrap_rule": "deduct",
        },
        {
            "product": "BRK-100",
            "step_no": 10,
            "effective_from": "2026-12-10",
            "rate": "0.55",
            "scrap_rule": "deduct",
        },
        {
            "product": "BRK-100",
            "step_no": 10,
            "effective_from": "2026-11-01",
            "rate": "0.60",
            "skill_level": "senior",
        },
        {"product": "BRK-100", "step_no": 20, "effective_from": "2026-11-01", "rate": "0.10", "team": True},
        {
            "product": "PIN-7",
            "step_no": 1,
            "effective_from": "2026-11-01",
            "rate": "0.2345",
            "scrap_rule": "material_share",
            "material_share_pct": 50,
            "material_reasons": ["material"],
        },
    ]
    for body in rates:
        ok(plant.client.post("/api/v1/piece-rates", json=body, headers=plant.as_("payroll")), 201)


def _report(
    plant: Plant, who: str, number: str, step: int, ts: int, good: int, scrap: int = 0, reason: str = "burr"
) -> None:
    body = {"step_no": step, "good": good, "scrap": scrap, "ts_ms": ts} | (
        {"scrap_reason": reason} if scrap else {}
    )
    ok(plant.client.post(f"/api/v1/work-orders/{number}/reports", json=body, headers=plant.as_(who)), 201)


def _setup(client: TestClient, engine: Engine) -> Plant:
    plant = build_plant(client)
    add_user(plant, "operator", "op2")
    line = ok(client.get("/api/v1/lines", headers=ADMIN))["items"][0]
    lathe2 = ok(client.get("/api/v1/machines/lathe-2", headers=ADMIN))
    station = {"line_id": line["id"], "code": "st-lathe-2", "name": "Lathe 2", "machine_id": lathe2["id"]}
    ok(client.post("/api/v1/stations", json=station, headers=ADMIN), 201)
    stations = {"stations": ["st-lathe-1", "st-lathe-2", "st-pack-1"]}  # where op2 may report
    ok(client.put("/api/v1/users/op2/stations", json=stations, headers=ADMIN))
    add_user(plant, "payroll")
    ok(client.patch("/api/v1/sites/demo", json={"timezone": "Asia/Shanghai"}, headers=ADMIN))
    ok(
        client.post(
            "/api/v1/machines/lathe-1/tags",
            json={"name": "good", "role": "counter", "width": 32},
            headers=ADMIN,
        ),
        201,
    )
    body = {"kind": "scrap", "code": "material", "label_zh": "来料不良", "label_en": "material"}
    ok(client.post("/api/v1/reason-codes", json=body, headers=ADMIN), 201)
    skill = client.put(
        "/api/v1/users/operator1/skill", json={"level": "senior"}, headers=plant.as_("payroll")
    )
    assert skill.status_code == 204
    _rates(plant)
    for number, product in (("WO-A", "BRK-100"), ("WO-P", "PIN-7")):
        body = {"number": number, "product": product, "quantity": 1000, "count_source": "manual"}
        ok(client.post("/api/v1/work-orders", json=body, headers=plant.as_("planner")), 201)
        ok(client.post(f"/api/v1/work-orders/{number}/release", headers=plant.as_("planner")))
    # PIN-7's one step has no machine kind: a supervisor runs it on lathe-2, whose station op2 works at too
    runs = [("WO-A", 10, "lathe-1", "operator"), ("WO-A", 20, "pack-1", "operator"),
            ("WO-P", 1, "lathe-2", "supervisor")]  # fmt: skip
    for number, step, machine, who in runs:
        ok(
            client.post(
                f"/api/v1/work-orders/{number}/start",
                json={"step_no": step, "machine": machine},
                headers=plant.as_(who),
            )
        )
    with Session(engine) as session:
        users = {u.username: u.id or 0 for u in session.exec(select(User)).all()}
        station = session.exec(select(Station).where(Station.code == "st-lathe-1")).one().id or 0
        # two operators on the packer in the morning shift of Dec 1: 8 h and 4 h signed in
        station_hours.open_session(session, users["operator1"], station, ms(1, 8), ms(1, 20))
        station_hours.close_sessions(session, users["operator1"], ms(1, 16))
        station_hours.open_session(session, users["op2"], station, ms(1, 8), ms(1, 20))
        station_hours.close_sessions(session, users["op2"], ms(1, 12))
        turn = session.exec(
            select(Operation).join(WorkOrder).where(WorkOrder.number == "WO-A", Operation.step_no == 10)
        ).one()
        machine = turn.machine_id or 0
        for ts, good in (
            (ms(1, 10), 140),
            (ms(12, 10), 130),
        ):  # the lathe counted 140 on Dec 1, 130 on Dec 12
            session.add(
                CountEvent(machine_id=machine, operation_id=turn.id, ts_ms=ts, good=good, edge_id="e", seq=ts)
            )
        session.commit()
    return plant


def _by(rows: list[dict], *keys: str) -> dict:  # type: ignore[type-arg]
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


def test_wage_sheet_exact_reconciled_closed_and_late(pay_client: TestClient, engine: Engine) -> None:
    client = pay_client
    with clock.fixed(datetime(2026, 12, 20, 18, tzinfo=SH)):
        plant = _setup(client, engine)
        _report(plant, "op2", "WO-A", 10, ms(20, 9, 11), 10)  # last period: 10 x 0.50 = 5.00
        _report(plant, "op2", "WO-A", 10, ms(1, 10), 100, 4)  # deduct at 0.50: (100 - 4) x 0.50 = 48.00
        _report(
            plant, "op2", "WO-A", 10, ms(12, 10), 80, 2
        )  # the rate changed Dec 10: (80 - 2) x 0.55 = 42.90
        _report(plant, "operator", "WO-A", 10, ms(1, 11), 50, 3)  # senior, scrap unpaid: 50 x 0.60 = 30.00
        _report(plant, "operator", "WO-A", 10, ms(12, 11), 40)  # 40 x 0.60 = 24.00
        _report(
            plant, "operator", "WO-A", 20, ms(1, 9), 300
        )  # team: (300 + 150) x 0.10 = 45.00, split 8 h : 4 h
        _report(plant, "op2", "WO-A", 20, ms(1, 9), 150)  # -> operator1 30.00, op2 15.00
        # PIN-7 at 0.2345, material scrap paid half: 200 x 0.2345 + 10 x 0.2345 x 0.5 = 46.90 + 1.1725, burr
        # scrap unpaid: + 1 x 0.2345; one line of the day: 48.3070 -> 48.31
        _report(plant, "op2", "WO-P", 1, ms(5, 10), 200, 10, "material")
        _report(plant, "op2", "WO-P", 1, ms(5, 11), 1, 5, "burr")
        adjust = {"username": "operator1", "day": "2026-12-12", "amount": "5.00", "reason": "night bonus"}
        ok(client.post("/api/v1/wages/adjustments", json=adjust, headers=plant.as_("supervisor")), 201)
        assert (
            client.post("/api/v1/wages/adjustments", json=adjust, headers=plant.as_("payroll")).status_code
            == 403
        )

        sheet = ok(client.get("/api/v1/wages", params={"day": "2026-12-20"}, headers=plant.as_("payroll")))
        assert (sheet["start"], sheet["end"]) == ("2026-11-26", "2026-12-25")
        ops = _by(sheet["operators"], "username")
        assert (ops["op2"]["pieces"], ops["op2"]["amount"], ops["op2"]["total"]) == (531, "154.21", "154.21")
        assert (
            ops["operator1"]["pieces"],
            ops["operator1"]["amount"],
            ops["operator1"]["adjustments"],
            ops["operator1"]["total"],
        ) == (390, "84.00", "5.00", "89.00")
        assert (ops["operator1"]["hours"], ops["operator1"]["per_hour"]) == (8.0, "10.50")  # 84.00 / 8 h
        assert (ops["op2"]["hours"], ops["op2"]["per_hour"]) == (4.0, "38.55")  # 154.21 / 4 h = 38.5525
        assert sheet["total"] == "243.21"
        lines = _by(sheet["lines"], "username", "day", "product", "step_no")
        expected = {
            ("op2", "2026-12-01", "BRK-100", 10): (
                "0.5",
                "48.00",
                False,
                False,
            ),  # over the machine: not backed
            ("op2", "2026-12-12", "BRK-100", 10): ("0.55", "42.90", True, False),
            ("operator1", "2026-12-01", "BRK-100", 10): ("0.6", "30.00", False, False),
            ("operator1", "2026-12-12", "BRK-100", 10): ("0.6", "24.00", True, False),
            ("operator1", "2026-12-01", "BRK-100", 20): ("0.1", "30.00", False, True),
            ("op2", "2026-12-01", "BRK-100", 20): ("0.1", "15.00", False, True),
            ("op2", "2026-12-05", "PIN-7", 1): ("0.2345", "48.31", False, False),
        }
        got = {
            k: (Decimal(v["rate"]).normalize().__str__(), v["amount"], v["machine_backed"], v["team"])
            for k, v in lines.items()
        }
        assert got == expected
        days = _by(sheet["days"], "username", "day")
        assert (days[("op2", "2026-12-01")]["amount"], days[("op2", "2026-12-01")]["per_hour"]) == (
            "63.00",
            "15.75",
        )
        # reconciliation: Dec 1 on the lathe, 100 + 50 reported against 140 counted: both flagged
        assert [
            (f["username"], f["day"], f["reported"], f["reported_all"], f["machine"]) for f in sheet["flags"]
        ] == [("op2", "2026-12-01", 100, 150, 140), ("operator1", "2026-12-01", 50, 150, 140)]
        last = ok(client.get("/api/v1/wages", params={"day": "2026-11-20"}, headers=plant.as_("supervisor")))
        assert [(o["username"], o["amount"]) for o in last["operators"]] == [("op2", "5.00")]  # not rewritten

        own = ok(client.get("/api/v1/wages", params={"username": "operator1"}, headers=plant.as_("op2")))
        assert {o["username"] for o in own["operators"]} == {"op2"}  # an operator sees their own only
        assert client.get("/api/v1/wages", headers=plant.as_("planner")).status_code == 403
        assert client.post("/api/v1/work-orders/WO-A/pause", headers=plant.as_("payroll")).status_code == 403

        exported = client.get(
            "/api/v1/wages/export", params={"day": "2026-12-20"}, headers=plant.as_("payroll")
        )
        book = load_workbook(io.BytesIO(exported.content))
        summary = list(book["汇总"].iter_rows(values_only=True))
        assert summary[1][:6] == ("工号", "姓名", "计件数量", "计件金额", "调整金额", "应发合计")
        rows = {r[0]: r for r in summary[2:]}
        assert rows["op2"][2:6] == (531, 154.21, 0, 154.21) and rows["operator1"][2:6] == (390, 84, 5, 89)
        assert rows["合计"][5] == 243.21
        detail = list(book["明细"].iter_rows(values_only=True))[2:]
        assert round(sum(r[9] for r in detail), 2) == 238.21  # the lines add up to the piece pay
        early = client.post("/api/v1/wages/close", json={"start": "2026-11-26"}, headers=plant.as_("payroll"))
        assert early.status_code == 409  # the period has not ended

    with clock.fixed(datetime(2026, 12, 27, 9, tzinfo=SH)):
        refused = client.post(
            "/api/v1/wages/close", json={"start": "2026-11-26"}, headers=plant.as_("payroll")
        )
        assert refused.status_code == 409 and len(refused.json()["flags"]) == 2  # shown before it closes
        body = {"start": "2026-11-26", "confirm_flags": True}
        closed = ok(client.post("/api/v1/wages/close", json=body, headers=plant.as_("payroll")))
        assert closed["closed_by"] == "payroll1" and closed["total"] == "243.21"
        assert client.post("/api/v1/wages/close", json=body, headers=plant.as_("payroll")).status_code == 409
        audit = ok(
            client.get("/api/v1/audit", params={"entity": "PayPeriod"}, headers=plant.as_("supervisor"))
        )
        assert [a["action"] for a in audit["items"]] == ["close"]
    with clock.fixed(datetime(2026, 12, 27, 10, tzinfo=SH)):
        # a late slip for Dec 12 and a supervisor's correction for Dec 20: both paid in the next period
        _report(plant, "op2", "WO-A", 10, ms(12, 15), 20)  # 20 x 0.55 = 11.00
        adjust = {"username": "op2", "day": "2026-12-20", "amount": "3.00", "reason": "missed slip"}
        ok(client.post("/api/v1/wages/adjustments", json=adjust, headers=plant.as_("supervisor")), 201)
        locked = ok(client.get("/api/v1/wages", params={"day": "2026-12-20"}, headers=plant.as_("payroll")))
        assert locked["total"] == "243.21" and locked["closed_by"] == "payroll1"
        nxt = ok(client.get("/api/v1/wages", headers=plant.as_("payroll")))
        assert (nxt["start"], nxt["total"]) == ("2026-12-26", "14.00")
        [late] = nxt["lines"]
        assert (late["username"], late["day"], late["amount"], late["late"]) == (
            "op2",
            "2026-12-12",
            "11.00",
            True,
        )
        assert [(a["day"], a["amount"], a["author"]) for a in nxt["adjustments"]] == [
            ("2026-12-20", "3.00", "supervisor1")
        ]
        me = ok(client.get("/api/v1/wages/me", headers=plant.as_("op2")))
        assert (me["pieces_period"], me["amount_period"], me["pieces_today"]) == (20, "14.00", 0)

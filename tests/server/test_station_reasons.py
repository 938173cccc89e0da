"""Reasons at the station, through the API and the domain on both engines: a pause keeps the operator's
optional reason (an active downtime code, else 422 and nothing paused), and the downtime reasons a tablet
offers come likeliest first (this machine's choices for stops in the same state, then what fits the state,
then this machine's other choices, then by code)."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.domain import reasons
from server.models.ingest import MachineStateSegment
from server.models.plant import Machine
from server.models.production import DowntimeEvent, OperationRun
from server.models.types import now_ms
from tests.server.factory import ADMIN, build_plant, running_order

URL = "/api/v1/work-orders/WO-PAUSE"
CODES = ["break", "machine_fault", "no_material", "no_operator"]  # tool_change comes with the plant


def _add_reasons(client: TestClient) -> None:
    for code in CODES:
        body = {"kind": "downtime", "code": code, "label_zh": code, "label_en": code}
        assert client.post("/api/v1/reason-codes", json=body, headers=ADMIN).status_code == 201


def test_pause_keeps_the_reason_and_refuses_an_unknown_one(client: TestClient, engine: Engine) -> None:
    plant = build_plant(client)
    _add_reasons(client)
    running_order(plant, "WO-PAUSE")
    operator = plant.as_("operator")
    bad = client.post(f"{URL}/pause", json={"step_no": 10, "reason": "coffee"}, headers=operator)
    assert bad.status_code == 422 and "coffee" in bad.json()["detail"]
    assert client.get(URL, headers=operator).json()["operations"][0]["status"] == "running"
    done = client.post(f"{URL}/pause", json={"step_no": 10, "reason": "no_material"}, headers=operator)
    assert done.status_code == 200 and done.json()["operations"][0]["status"] == "paused"
    with Session(engine) as session:
        runs = session.exec(select(OperationRun).order_by(col(OperationRun.id))).all()
    assert [r.pause_reason for r in runs] == ["no_material"]


def _stop(session: Session, machine_id: int, start_ms: int, state: str, reason: str | None) -> None:
    session.add(MachineStateSegment(machine_id=machine_id, state=state, start_ms=start_ms))
    session.add(DowntimeEvent(machine_id=machine_id, start_ms=start_ms, reason_code=reason))


def test_likeliest_downtime_reasons_first(client: TestClient, engine: Engine) -> None:
    build_plant(client)
    _add_reasons(client)
    now = now_ms()
    with Session(engine) as session:
        machine = session.exec(select(Machine).where(Machine.code == "lathe-1")).one()
        other = session.exec(select(Machine).where(Machine.code != "lathe-1")).first()
        assert machine.id is not None and other is not None and other.id is not None
        assert reasons.likely_downtime(session, machine.id, None, now) == sorted([*CODES, "tool_change"])
        for minutes, state, reason in (
            (90, "fault", "no_operator"),
            (60, "fault", "no_operator"),
            (50, "idle", "break"),
            (40, "idle", "break"),
            (30, "idle", "break"),
        ):
            _stop(session, machine.id, now - minutes * 60_000, state, reason)  # fmt: skip
        _stop(session, other.id, now - 20 * 60_000, "fault", "break")  # another machine's habits don't count
        _stop(session, machine.id, now - 40 * 86_400_000, "fault", "break")  # nor last quarter's
        session.commit()
        fault = reasons.likely_downtime(session, machine.id, "fault", now)
        starved = reasons.likely_downtime(session, machine.id, "starved", now)
    assert fault == ["no_operator", "machine_fault", "tool_change", "break", "no_material"]
    assert starved == ["no_material", "break", "no_operator", "machine_fault", "tool_change"]

"""What the station tablet's outbox relies on when it retries: a check recorded on the tablet
(`/station/{code}/inspection`) with an Idempotency-Key is stored once, and classifying a downtime again with
the same reason changes nothing and is no error."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from server.domain.idempotency import request_hash
from server.domain.quality import InspectionIn
from server.models.audit import AuditLog
from server.models.production import IdempotencyRecord
from server.models.quality import InspectionRecord, Nonconformance
from tests.server.factory import Plant, build_plant, ok, running_order
from tests.support.together import together

URL = "/station/st-lathe-1/inspection"
ORIGIN = {"Origin": "http://testserver"}
IN_FLIGHT = "a request with this Idempotency-Key is still in progress"  # station.js retries on this


def _signed_in_tablet(client: TestClient, plant: Plant) -> None:
    """Enroll this client as the station's tablet and sign operator1 in (cookies kept by the client)."""
    tablet = {"station": "st-lathe-1", "name": "tab-outbox"}
    link = ok(client.post("/api/v1/tablets", json=tablet, headers=plant.as_("admin")), 201)["enroll_url"]
    path = "/station/" + link.split("/station/", 1)[1]
    assert client.get(path, follow_redirects=False).status_code == 303
    badge = {"badge": "B-operator1", "pin": "4321"}
    signed = client.post("/station/st-lathe-1/sign-in", data=badge, headers=ORIGIN, follow_redirects=False)
    assert signed.status_code == 303 and "takt_op" in client.cookies


def _check(client: TestClient, plant: Plant) -> dict:  # type: ignore[type-arg]
    """A running order WO-I, a plan with one numeric characteristic, and a passing check of it."""
    running_order(plant, "WO-I", 100)
    chars = [
        {"name": "diameter", "kind": "numeric", "nominal": 10.0, "lsl": 9.95, "usl": 10.05, "unit": "mm"}
    ]
    plan = {"product_id": 1, "step_no": 10, "name": "first article", "frequency": "first_article",
            "characteristics": chars}  # fmt: skip
    created = ok(client.post("/api/v1/inspection-plans", json=plan, headers=plant.as_("inspector")), 201)
    char = created["characteristics"][0]["id"]
    _signed_in_tablet(client, plant)
    return {"plan_id": created["id"], "work_order": "WO-I", "step_no": 10,
            "values": [{"characteristic_id": char, "value": 10.01}]}  # fmt: skip


def _records(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(InspectionRecord)).one()


def test_same_key_records_the_check_once(client: TestClient, engine: Engine) -> None:
    plant = build_plant(client)
    body = _check(client, plant)
    headers = ORIGIN | {"Idempotency-Key": "tab-0001"}
    first = client.post(URL, json=body, headers=headers)
    again = client.post(URL, json=body, headers=headers)  # the first answer was lost: the outbox retries
    assert first.status_code == again.status_code == 201 and first.json() == again.json() == {"passed": True}
    assert _records(engine) == 1
    other = body | {"values": [{"characteristic_id": body["values"][0]["characteristic_id"], "value": 11.0}]}
    reused = client.post(URL, json=other, headers=headers)
    assert reused.status_code == 422 and "different request" in reused.json()["detail"]
    assert _records(engine) == 1
    fails = client.post(URL, json=other, headers=ORIGIN | {"Idempotency-Key": "tab-0002"})
    assert fails.status_code == 201 and fails.json() == {"passed": False}  # another key: another check
    with Session(engine) as session:
        assert len(session.exec(select(Nonconformance)).all()) == 1
    assert _records(engine) == 2


def test_refusals_are_json_and_remembered(client: TestClient, engine: Engine) -> None:
    """The outbox shows why a check was refused (in the tablet's language); it retries an in-flight key."""
    plant = build_plant(client)
    body = _check(client, plant)
    headers = ORIGIN | {"Idempotency-Key": "tab-bad", "Accept-Language": "zh-CN"}
    wrong_step = body | {"step_no": 99}
    refused = client.post(URL, json=wrong_step, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"] == "the work order has no step 99" and "99" in refused.json()["message"]
    assert refused.json()["message"] != refused.json()["detail"]  # translated for the zh tablet
    assert client.post(URL, json=wrong_step, headers=headers).json() == refused.json()  # replayed
    with Session(engine) as session:
        digest = request_hash(
            {"station": "st-lathe-1", "body": InspectionIn.model_validate(body).model_dump(mode="json")}
        )
        session.add(
            IdempotencyRecord(scope="station-inspection:st-lathe-1", key="stuck", request_hash=digest)
        )
        session.commit()
    in_flight = client.post(URL, json=body, headers=ORIGIN | {"Idempotency-Key": "stuck"})
    assert in_flight.status_code == 409 and in_flight.json()["detail"].startswith(IN_FLIGHT)
    assert _records(engine) == 0


@pytest.mark.faults
def test_same_key_at_the_same_moment(client: TestClient, engine: Engine) -> None:
    plant = build_plant(client)
    body = _check(client, plant)
    for n in range(3):
        headers = ORIGIN | {"Idempotency-Key": f"race-{n}"}
        answers = together(*[lambda h=headers: client.post(URL, json=body, headers=h)] * 2)
        codes = sorted(r.status_code for r in answers)
        assert codes in ([201, 201], [201, 409]), codes
        if codes == [201, 201]:
            assert answers[0].json() == answers[1].json()
        else:
            assert max(answers, key=lambda r: r.status_code).json()["detail"].startswith(IN_FLIGHT)
    assert _records(engine) == 3


def test_classifying_a_downtime_again_with_the_same_reason_is_harmless(
    client: TestClient, engine: Engine
) -> None:
    plant = build_plant(client)
    event = {"machine": "lathe-1", "start_ms": 1_700_000_000_000}
    created = ok(client.post("/api/v1/downtime", json=event, headers=plant.as_("supervisor")), 201)
    url = f"/api/v1/downtime/{created['id']}/classify"
    reason = {"reason_code": "tool_change"}
    first = ok(client.post(url, json=reason, headers=plant.as_("operator")))
    again = ok(client.post(url, json=reason, headers=plant.as_("operator")))  # the outbox's retry
    assert first == again and again["reason_code"] == "tool_change" and again["classified_by"] == "operator1"
    with Session(engine) as session:
        stmt = select(AuditLog).where(AuditLog.entity == "DowntimeEvent", AuditLog.action == "classify")
        assert len(session.exec(stmt).all()) == 1  # the retry changed nothing
    unknown = client.post(url, json={"reason_code": "nap"}, headers=plant.as_("operator"))
    assert unknown.status_code == 422  # refused: the outbox keeps it with this reason
    events = ok(client.get("/api/v1/downtime?machine=lathe-1", headers=plant.as_("supervisor")))["items"]
    assert events[0]["reason_code"] == "tool_change"


def test_the_api_records_an_inspection_once_per_key(client: TestClient, engine: Engine) -> None:
    """`POST /api/v1/inspections` (scripts, other clients) has the same Idempotency-Key semantics."""
    plant = build_plant(client)
    body = _check(client, plant)
    headers = plant.as_("inspector") | {"Idempotency-Key": "api-0001"}
    first = client.post("/api/v1/inspections", json=body, headers=headers)
    again = client.post("/api/v1/inspections", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert first.json()["values"][0]["value"] == 10.01 and _records(engine) == 1
    other = body | {"values": [{"characteristic_id": body["values"][0]["characteristic_id"], "value": 9.0}]}
    assert client.post("/api/v1/inspections", json=other, headers=headers).status_code == 422
    without_key = client.post("/api/v1/inspections", json=body, headers=plant.as_("inspector"))
    assert without_key.status_code == 201 and _records(engine) == 2  # no key: a second check, as asked

"""The boss view's scrap by line: today's rate against yesterday's, and today's most frequent reason."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.domain.boss_view import LineScrap, scrap_by_line
from server.models.ingest import CountEvent
from server.models.plant import Machine, Site
from server.models.production import Operation, WorkReport
from tests.server.factory import ADMIN, build_plant, ok, running_order

DAY = 86_400_000
SINCE = 1_790_000_000_000  # "today" starts here; the view is asked at SINCE + 10 h
NOW = SINCE + 10 * 3_600_000


@pytest.fixture
def plant_ids(client: TestClient, engine: Engine) -> tuple[int, int, int]:
    """(operation on lathe-1 of Line A, its order, a machine on no line)."""
    plant = build_plant(client)
    running_order(plant, "WO-S", 5000)
    with Session(engine) as session:
        site_id = session.exec(select(Site.id)).one()
    body = {"site_id": site_id, "code": "saw-1", "name": "saw-1", "kind": "saw"}
    loose = ok(client.post("/api/v1/machines", json=body, headers=ADMIN), 201)
    with Session(engine) as session:
        op = session.exec(select(Operation).where(Operation.machine_id.is_not(None))).first()  # type: ignore[union-attr]
        assert op is not None and op.id is not None
        return op.id, op.work_order_id, loose["id"]


def test_scrap_by_line_compares_with_yesterday_and_names_the_top_reason(
    engine: Engine, plant_ids: tuple[int, int, int]
) -> None:
    op_id, order_id, loose = plant_ids
    with Session(engine) as session:
        lathe = session.exec(select(Machine).where(Machine.code == "lathe-1")).one()
        site = session.exec(select(Site)).one()
        count = {"edge_id": "e", "seq": 1}
        session.add(
            CountEvent(machine_id=lathe.id or 0, ts_ms=SINCE + 3_600_000, good=950, scrap=50, **count)
        )
        session.add(CountEvent(machine_id=loose, ts_ms=SINCE + 7_200_000, good=100, scrap=0, **count))
        session.add(
            CountEvent(machine_id=lathe.id or 0, ts_ms=NOW + 60_000, good=0, scrap=999, **count)
        )  # later
        # yesterday Line A's machines counted nothing: the operators' reports stand in (20 of 2,000: 1 %)
        report = {"work_order_id": order_id, "operation_id": op_id}
        session.add(
            WorkReport(good=980, scrap=20, scrap_reason="burr", ts_ms=SINCE - DAY + 3_600_000, **report)
        )
        session.add(WorkReport(good=0, scrap=12, scrap_reason="burr", ts_ms=SINCE + 60_000, **report))
        session.add(WorkReport(good=0, scrap=5, scrap_reason="dent", ts_ms=SINCE + 120_000, **report))
        session.add(WorkReport(good=1000, scrap=0, ts_ms=SINCE - 60_000, **report))  # yesterday's last minute
        session.commit()
        english = scrap_by_line(session, site, SINCE, NOW, "en")
        chinese = scrap_by_line(session, site, SINCE, NOW, "zh_CN")
    # today Line A's machine counts are its figures (the manual reports are kept apart, never summed in)
    assert english == [
        LineScrap("Line A", 950, 50, 20 / 2000, "burr"),
        LineScrap(None, 100, 0, None, None),
    ]
    assert english[0].worse and not english[1].worse  # 5 % against 1 %; nothing to compare with
    assert chinese[0].top_reason == "毛刺"


def test_worse_means_clearly_worse() -> None:
    assert not LineScrap("A", 950, 50, 0.049).worse, "5.0 % against 4.9 %"
    assert not LineScrap("A", 990, 10, 0.004).worse, "1.0 % against 0.4 %: less than a point more"
    assert LineScrap("A", 980, 20, 0.005).worse and not LineScrap("A", 0, 0, 0.01).worse

"""The automation scorecard against a scenario whose figures are worked out by hand (docs/scorecard.md), on
each engine, through the API.

Site in Asia/Shanghai, day D = 2026-03-02. Line A: machines M1, M2; line B: machine M3 (sends nothing) and
station S1 (no machine).
- M1 counts 100 + 50 good on D; its operator confirms 150 by hand (not counted again). On S1, three hand
  reports of 40, 20, 10 good; the step is reopened between the second and the third.
  machine share: site 150 / (150 + 70) = 0.6818; A 1.0; B 0.0.
  first-time-right: site 2 of 4 = 0.5; A 1 of 1; B 1 of 3 = 0.3333.
- Downtime on D: M1 10:00-10:30 "jam" given at 10:06; M2 11:00-11:20 without reason; M1 23:50-00:10 (D+1)
  "jam" given at 00:00. D: 60 min, 40 with a reason = 0.6667, median to reason of [6, 10] = 8.0 min.
  D+1: 10 min, all with a reason = 1.0; no stop began on D+1: no median.
- Live: M1 counted, M2 had a running segment, M3 nothing: site 2 of 3 = 0.6667; A 1.0; B 0.0.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from server.core.settings import Settings
from server.models.audit import AuditLog
from server.models.catalog import Product
from server.models.ingest import CountEvent, MachineStateSegment
from server.models.plant import Line, Machine, Site, Station
from server.models.production import DowntimeEvent, Operation, WorkOrder, WorkReport

ZONE = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(2026, 3, day, hour, minute, tzinfo=ZONE).timestamp() * 1000)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def scenario(session: Session, site_code: str) -> None:
    site = Site(code=site_code, name="Plant", timezone="Asia/Shanghai")
    session.add(site)
    session.flush()
    line_a, line_b = (
        Line(site_id=site.id or 0, code="A", name="A"),
        Line(site_id=site.id or 0, code="B", name="B"),
    )
    session.add_all([line_a, line_b])
    session.flush()
    m1, m2, m3 = (Machine(site_id=site.id or 0, line_id=line.id, code=c, name=c)
                  for c, line in (("M1", line_a), ("M2", line_a), ("M3", line_b)))  # fmt: skip
    session.add_all([m1, m2, m3])
    session.flush()
    s1 = Station(line_id=line_b.id or 0, code="S1", name="S1")
    product = Product(code="P1", name="P1")
    session.add_all([s1, product])
    session.flush()
    order = WorkOrder(number="WO-SC", quantity=500, product_id=product.id or 0, status="running")
    session.add(order)
    session.flush()
    on_m1 = Operation(work_order_id=order.id or 0, step_no=10, name="turn", machine_id=m1.id, planned_qty=500,
                      machine_good=150)  # fmt: skip
    on_s1 = Operation(
        work_order_id=order.id or 0, step_no=20, name="deburr", station_id=s1.id, planned_qty=500
    )
    session.add_all([on_m1, on_s1])
    session.flush()
    session.add_all([
        CountEvent(machine_id=m1.id or 0, operation_id=on_m1.id,
                   ts_ms=at(2, 9), good=100, edge_id="e", seq=1),
        CountEvent(machine_id=m1.id or 0, operation_id=on_m1.id,
                   ts_ms=at(2, 14), good=50, edge_id="e", seq=2),
        MachineStateSegment(machine_id=m2.id or 0, state="running", start_ms=at(2, 8), end_ms=at(2, 11)),
        MachineStateSegment(machine_id=m3.id or 0, state="offline", start_ms=at(1, 8)),
    ])  # fmt: skip
    reports = [(on_m1, 150, at(2, 15)), (on_s1, 40, at(2, 9)), (on_s1, 20, at(2, 10)), (on_s1, 10, at(2, 16))]
    for op, good, ts in reports:
        session.add(WorkReport(work_order_id=order.id or 0, operation_id=op.id or 0, good=good, ts_ms=ts,
                               created_at=_utc(ts)))  # fmt: skip
    session.add(AuditLog(ts=_utc(at(2, 12)), actor="lead", entity="Operation", entity_id=str(on_s1.id),
                         action="reopen"))  # fmt: skip
    session.add_all([
        DowntimeEvent(machine_id=m1.id or 0, start_ms=at(2, 10), end_ms=at(2, 10, 30), reason_code="jam",
                      classified_ms=at(2, 10, 6)),
        DowntimeEvent(machine_id=m2.id or 0, start_ms=at(2, 11), end_ms=at(2, 11, 20)),
        DowntimeEvent(machine_id=m1.id or 0, start_ms=at(2, 23, 50), end_ms=at(3, 0, 10), reason_code="jam",
                      classified_ms=at(3, 0)),
    ])  # fmt: skip
    session.commit()


def test_scorecard_matches_the_hand_computed_figures(
    engine: Engine, settings: Settings, client: TestClient, admin_headers: dict[str, str]
) -> None:
    with Session(engine) as session:
        scenario(session, settings.site)
    answer = client.get("/api/v1/scorecard?start=2026-03-02&end=2026-03-03", headers=admin_headers)
    assert answer.status_code == 200, answer.text
    day, next_day = answer.json()["days"]
    site, a, b = day["site"], day["lines"]["A"], day["lines"]["B"]
    assert (site["machine_share"], a["machine_share"], b["machine_share"]) == (0.6818, 1.0, 0.0)
    assert (site["machine_good"], site["manual_good"]) == (150, 70)
    assert (site["first_time_right"], a["first_time_right"], b["first_time_right"]) == (0.5, 1.0, 0.3333)
    assert (site["downtime_min"], site["reason_share"], site["median_reason_min"]) == (60.0, 0.6667, 8.0)
    assert (b["downtime_min"], b["reason_share"]) == (0.0, None)  # nothing stopped on B: nothing to measure
    assert (site["live_share"], a["live_share"], b["live_share"]) == (0.6667, 1.0, 0.0)
    nxt = next_day["site"]
    assert (nxt["downtime_min"], nxt["reason_share"], nxt["median_reason_min"]) == (10.0, 1.0, None)

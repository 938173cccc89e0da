"""The ingest API: edges with cursors and gaps, gap skip (admin), dead letters, machine live, series."""

import time
from collections.abc import Callable
from datetime import time as dtime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from server.ingest import Ingestor
from server.models.shifts import Shift
from tests.server.ingest.support import EDGE, Broker, batch, make_plant, wait_for


@pytest.mark.faults
def test_edges_gaps_skip_dead_letters_live_and_series(
    engine: Engine,
    client: TestClient,
    admin_headers: dict[str, str],
    start_ingestor: Callable[..., Ingestor],
    broker: Broker,
) -> None:
    plant = make_plant(engine)
    start_ingestor()
    now = int(time.time() * 1000)
    t1, t2, t4 = now - 30_000, now - 20_000, now - 10_000
    broker.publish(
        batch(1, [("m1", "good_count", t1, 10), ("m1", "state", t1, 2), ("m1", "temperature", t1, 20.0)])
    )
    broker.publish(batch(2, [("m1", "good_count", t2, 15), ("m1", "scrap_count", t2, 0),
                             ("m1", "temperature", t2, 30.0)]))  # fmt: skip
    broker.publish(batch(4, [("m1", "good_count", t4, 18), ("m1", "temperature", t4, 40.0)]))  # 3 is missing
    broker.publish(b"not json")

    def edge() -> dict:  # type: ignore[type-arg]
        response = client.get(f"/api/v1/edges/{EDGE}", headers=admin_headers)
        if response.status_code == 404:  # nothing stored yet
            return {"gaps": [], "last_applied_seq": 0}
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    held = wait_for(lambda: (e := edge())["gaps"] and e, what="a gap in the edge's view")
    assert (held["last_applied_seq"], held["highest_contiguous_seq"], held["highest_stored_seq"]) == (2, 2, 4)
    assert held["held_batches"] == 1
    assert [(g["from_seq"], g["to_seq"], g["resolution"]) for g in held["gaps"]] == [(3, 3, None)]
    assert [e["edge_id"] for e in client.get("/api/v1/edges", headers=admin_headers).json()] == [EDGE]

    assert client.post(f"/api/v1/edges/{EDGE}/gaps/5/skip", headers=admin_headers).status_code == 409
    assert client.post(f"/api/v1/edges/{EDGE}/gaps/3/skip").status_code == 401
    skipped = client.post(f"/api/v1/edges/{EDGE}/gaps/3/skip", headers=admin_headers)
    assert skipped.status_code == 200 and skipped.json() == {"edge_id": EDGE, "last_applied_seq": 3}
    wait_for(lambda: edge()["last_applied_seq"] == 4, what="batch 4 applied after the skip")
    assert [(g["resolution"], g["resolved_by"]) for g in edge()["gaps"]] == [("skipped", "admin-token")]

    letters = client.get("/api/v1/dead-letters", headers=admin_headers).json()
    assert letters["total"] == 1 and letters["items"][0]["preview"] == "not json"
    raw = client.get(f"/api/v1/dead-letters/{letters['items'][0]['id']}/raw", headers=admin_headers)
    assert raw.content == b"not json"

    live = client.get("/api/v1/machines/m1/live", headers=admin_headers).json()
    assert (live["state"], live["since_ms"]) == ("running", t1)
    assert (live["good"], live["scrap"], live["shift"]) == (8, 0, None)  # since local midnight: no shifts
    assert live["operation"]["work_order"] == "WO-1" and live["operation"]["machine_good"] == 8
    assert 9 <= live["last_sample_age_s"] < 600
    assert client.get("/api/v1/machines/nope/live", headers=admin_headers).status_code == 404
    with Session(engine) as session:  # a 24-hour shift every day: counts since its start
        session.add(Shift(site_id=plant.site_id, name="all-day", start_local=dtime(0), end_local=dtime(0),
                          days="1,2,3,4,5,6,7"))  # fmt: skip
        session.commit()
    live = client.get("/api/v1/machines/m1/live", headers=admin_headers).json()
    assert (live["shift"], live["good"]) == ("all-day", 8)

    series = client.get(
        "/api/v1/machines/m1/series",
        params={"tag": "temperature", "start": t1, "end": t1 + 30_000, "step": 15_000},
        headers=admin_headers,
    ).json()
    assert series["historian"] == "sql"
    assert series["points"] == [[t1, 25.0], [t1 + 15_000, 40.0]]
    bad = client.get(
        "/api/v1/machines/m1/series", params={"tag": "t", "start": 10, "end": 5}, headers=admin_headers
    )
    assert bad.status_code == 422
    stats = client.get("/api/v1/ingest/stats", headers=admin_headers).json()
    assert stats["running"] is False  # MQTT off; on PostgreSQL the live fan-out still runs and reports
    assert ("live_fanout" in stats) == (engine.dialect.name == "postgresql"), stats

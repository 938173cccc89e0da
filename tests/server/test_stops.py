"""The stops overlapping a window, read over their end only (server/domain/stops.py): random stops, some
overlapping (manual entries), some open, some days long, on both engines, against a check of every stop."""

import random

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.domain import stops
from server.models.plant import Machine
from server.models.production import DowntimeEvent
from tests.server.factory import build_plant

HOUR_MS = 3_600_000
T0 = 1_790_000_000_000


def test_the_stops_of_a_window_are_every_stop_overlapping_it(client: TestClient, engine: Engine) -> None:
    build_plant(client)
    rng = random.Random(11)
    with Session(engine) as session:
        machines = [m.id or 0 for m in session.exec(select(Machine)).all()]
        for machine in machines:
            t = T0
            for _ in range(200):
                t += rng.randrange(1, 5 * HOUR_MS)
                length = rng.choice((5, 60, 600, 3000)) * rng.randrange(30_000, 90_000)  # up to 3 days
                end = None if rng.random() < 0.02 else t + length
                session.add(DowntimeEvent(machine_id=machine, start_ms=t, end_ms=end,
                                          source=rng.choice(("auto", "manual"))))  # fmt: skip
        session.commit()
        every = list(session.exec(select(DowntimeEvent)).all())
        assert any(e.end_ms is None for e in every) and any(e.end_ms and e.end_ms - e.start_ms > 24 * HOUR_MS
                                                            for e in every)  # fmt: skip
        last = max(e.start_ms for e in every)
        windows = [(T0 - 24 * HOUR_MS, T0), (last - 24 * HOUR_MS, last + 48 * HOUR_MS)]  # before, and now
        for _ in range(40):
            lo = T0 + rng.randrange(0, last - T0)
            windows.append((lo, lo + rng.choice((1, 24, 7 * 24)) * HOUR_MS))
        for lo, hi in windows:
            want = {e.id for e in every if e.start_ms < hi and (e.end_ms is None or e.end_ms > lo)}
            got = [e.id for e in stops.overlapping(session, lo, hi)]
            assert len(got) == len(set(got)) and set(got) == want
            assert want or lo < T0  # the windows hold stops, but the one before the first

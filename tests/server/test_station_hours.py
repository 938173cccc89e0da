"""Hours on the station over a period read only the sessions that can overlap it (those expiring after its
start): random sign-ins, sign-outs and sessions left to expire, on both engines, against a sum over all."""

import random
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.domain import station_hours
from server.models.auth import User
from server.models.pay import StationSession
from server.models.plant import Station
from tests.server.factory import build_plant

HOUR_MS = 3_600_000
DAY0 = date(2026, 10, 1)
T0 = 1_790_000_000_000  # DAY0's start (a day here is 24 h from T0; the zone does not matter)


def _days(first: int, count: int) -> list[tuple[date, int, int]]:
    return [(DAY0 + timedelta(days=n), T0 + n * 24 * HOUR_MS, T0 + (n + 1) * 24 * HOUR_MS)
            for n in range(first, first + count)]  # fmt: skip


def _overlaps(
    rows: list[StationSession], days: list[tuple[date, int, int]], now_ms: int
) -> dict[tuple[int, date], float]:
    out: dict[tuple[int, date], float] = {}
    for row in rows:
        end = row.end_ms if row.end_ms is not None else min(row.expires_ms, now_ms)
        for day, lo, hi in days:
            overlap = min(end, hi) - max(row.start_ms, lo)
            if overlap > 0:
                key = (row.user_id, day)
                out[key] = out.get(key, 0.0) + overlap / HOUR_MS
    return out


def test_hours_of_a_period_match_every_session_overlapping_it(client: TestClient, engine: Engine) -> None:
    build_plant(client)
    rng = random.Random(7)
    with Session(engine) as session:
        users = [u.id or 0 for u in session.exec(select(User)).all()]
        station = session.exec(select(Station)).first()
        assert station is not None and station.id is not None
        for user in users:
            t = T0
            for _ in range(90):  # about 60 days of shifts: signed out, or left to expire (up to 36 h)
                t += rng.randrange(1, 30) * HOUR_MS
                ttl = rng.choice((4, 12, 36)) * HOUR_MS
                station_hours.open_session(session, user, station.id, t, t + ttl)
                if rng.random() < 0.7:
                    t += rng.randrange(1, ttl // HOUR_MS + 3) * HOUR_MS  # may be past the expiry
                    station_hours.close_sessions(session, user, t)
        session.commit()
        rows = list(session.exec(select(StationSession)).all())
        assert all(r.end_ms is None or r.end_ms <= r.expires_ms for r in rows)
        now_ms = T0 + 50 * 24 * HOUR_MS  # sessions open at "now" count up to now
        for first, count in ((0, 1), (20, 7), (30, 31), (55, 10)):
            days = _days(first, count)
            want = _overlaps(rows, days, now_ms)
            got = station_hours.hours_by_day(session, days, now_ms)
            assert want, "the period holds sessions"
            assert got.keys() == want.keys()
            assert all(abs(got[k] - want[k]) < 1e-9 for k in want)
            some = users[:2]
            mine = station_hours.hours_by_day(session, days, now_ms, some)
            assert mine == {k: v for k, v in got.items() if k[0] in some}

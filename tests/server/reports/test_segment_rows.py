"""`oee.segment_rows`: the state segments overlapping a window, read as the one in force at its start plus an
index range, are exactly those a scan of every segment would find, on both engines."""

import random

from sqlalchemy import Engine
from sqlmodel import Session

from server.domain import oee
from server.models.ingest import MachineStateSegment
from server.models.plant import Machine, Site

STATES = ("running", "idle", "fault", "offline")


def _history(s: Session, rng: random.Random) -> dict[int, list[tuple[str, int, int | None]]]:
    """Three machines with back-to-back segments (the timeline's shape), the newest open; one machine none."""
    site = Site(code="s", name="S")
    s.add(site)
    s.flush()
    machines = [Machine(site_id=site.id or 0, code=f"m{i}", name=f"m{i}") for i in range(4)]
    s.add_all(machines)
    s.flush()
    history: dict[int, list[tuple[str, int, int | None]]] = {}
    for machine in machines[:3]:
        t, rows = rng.randrange(0, 500), list[tuple[str, int, int | None]]()
        for _ in range(rng.randrange(1, 40)):
            length = rng.randrange(1, 100)
            rows.append((rng.choice(STATES), t, t + length))
            t += length
        rows[-1] = (rows[-1][0], rows[-1][1], None)
        history[machine.id or 0] = rows
        s.add_all(MachineStateSegment(machine_id=machine.id or 0, state=st, start_ms=a, end_ms=b)
                  for st, a, b in rows)  # fmt: skip
    history[machines[3].id or 0] = []
    s.commit()
    return history


def test_segments_overlapping_a_window_match_a_full_scan(both_engines: Engine) -> None:
    rng = random.Random(19)
    with Session(both_engines) as s:
        history = _history(s, rng)
        ids = sorted(history)
        for _ in range(200):
            lo = rng.randrange(-50, 3_000)
            hi = None if rng.random() < 0.2 else lo + rng.randrange(0, 800)
            expected = sorted(
                (
                    (mid, st, a, b)
                    for mid, rows in history.items()
                    for st, a, b in rows
                    if (hi is None or a < hi) and (b is None or b > lo)
                ),
                key=lambda row: (row[0], row[2]),
            )
            assert oee.segment_rows(s, ids, lo, hi) == expected, (lo, hi)

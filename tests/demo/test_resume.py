"""On a second start the simulator's counters resume at the readings the server last stored."""

from pathlib import Path

from sqlmodel import Session

from server.core.db import init_db, make_engine
from server.models.ingest import SignalState
from server.models.plant import Machine, Site, Tag
from simulators.config import load_plant
from takt.demo.resume import last_counters, resume_plant
from tests.support.processes import ROOT

PLANT = ROOT / "simulators" / "plants" / "demo.yaml"


def make_db(path: Path, readings: dict[str, int]) -> None:
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    with Session(engine) as session:
        site = Site(code="demo", name="demo")
        session.add(site)
        session.flush()
        for code, value in readings.items():
            machine = Machine(site_id=site.id or 0, code=code, name=code)
            session.add(machine)
            session.flush()
            session.add(Tag(machine_id=machine.id or 0, name="good_count", role="counter", width=16))
            session.add(Tag(machine_id=machine.id or 0, name="scrap_count", role="scrap_counter", width=16))
            session.add(SignalState(machine_id=machine.id or 0, tag="good_count", value=value, ts_ms=1))
            session.add(SignalState(machine_id=machine.id or 0, tag="scrap_count", value=7, ts_ms=1))
        session.commit()
    engine.dispose()


def test_counters_resume_at_the_last_readings(tmp_path: Path) -> None:
    db = tmp_path / "takt.db"
    make_db(db, {"cnc1": 120, "cnc2": 4321})
    counters = last_counters(db, "demo")
    assert counters == {"cnc1": 120, "cnc2": 4321}  # good-part counters only, not scrap
    plant = load_plant(resume_plant(PLANT, tmp_path / "sim" / "plant.yaml", counters))
    starts = {m.id: m.counter_start for m in plant.machines}
    original = {m.id: m.counter_start for m in load_plant(PLANT).machines}
    assert starts == {**original, "cnc1": 120, "cnc2": 4321}


def test_first_start_uses_the_plant_file(tmp_path: Path) -> None:
    assert last_counters(tmp_path / "missing.db", "demo") == {}
    assert resume_plant(PLANT, tmp_path / "plant.yaml", {}) == PLANT
    (tmp_path / "empty.db").write_bytes(b"")
    assert last_counters(tmp_path / "empty.db", "demo") == {}  # no tables yet: nothing to resume

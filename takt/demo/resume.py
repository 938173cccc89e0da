"""Machines resume where they stopped: the simulator keeps no state, so on a second start its part counters
would begin again at the plant file's `counter_start`, and the server would see a reset (or, for a counter
starting high, a leap) on every machine. The demo writes a copy of the plant file whose `counter_start` is
each machine's last counter reading the server stored, as if the machines had stood still meanwhile."""

import logging
from pathlib import Path

import yaml

log = logging.getLogger(__name__)


def last_counters(db: Path, site: str) -> dict[str, int]:
    """{machine code: last good-part counter reading} from the demo database ({} when there is none)."""
    if not db.is_file():
        return {}
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session, col, select

    from server.core.db import make_engine
    from server.models.ingest import SignalState
    from server.models.plant import Machine, Site, Tag

    stmt = (
        select(Machine.code, SignalState.value)
        .join(Site, col(Site.id) == Machine.site_id)
        .join(Tag, col(Tag.machine_id) == Machine.id)
        .join(SignalState, (col(SignalState.machine_id) == Machine.id) & (col(SignalState.tag) == Tag.name))
        .where(Site.code == site, Tag.role == "counter")
    )
    engine = make_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as session:
            return {code: int(value) for code, value in session.exec(stmt).all()}
    except SQLAlchemyError as err:  # an older or damaged database: start the plant as configured
        log.warning("no last counter readings from %s: %s", db, err)
        return {}
    finally:
        engine.dispose()


def resume_plant(plant: Path, dest: Path, counters: dict[str, int]) -> Path:
    """`plant`, or a copy at `dest` with `counter_start` set to `counters` (machine code -> value)."""
    if not counters:
        return plant
    data = yaml.safe_load(plant.read_text(encoding="utf-8"))
    for machine in data.get("machines", []):
        value = counters.get(str(machine.get("id")))
        if value is not None and 0 <= value < 1 << int(machine.get("counter_width", 32)):
            machine["counter_start"] = value
    dest.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Written by takt demo from {plant}: counters resume at their last readings.\n"
    dest.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return dest

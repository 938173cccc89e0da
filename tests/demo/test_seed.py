"""server/seed.py on SQLite and PostgreSQL: the demo data is complete, usable (sign-ins, share link, runs
on machines) and seeding again changes nothing but the machines' ideal cycle times."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, col, select

from server.core.db import init_db, make_engine
from server.core.settings import Settings
from server.domain import sharelinks, signin
from server.models.auth import ShareLink, Tablet, User
from server.models.catalog import Product, ReasonCode
from server.models.plant import Machine, Station, Tag
from server.models.production import OperationRun, WorkOrder
from server.models.quality import InspectionPlan, InspectionRecord
from server.seed import ORDERS, DemoSecrets, load_plant, seed
from tests.support.processes import ROOT

PLANT = ROOT / "simulators" / "plants" / "demo.yaml"
EDGE = ROOT / "deploy" / "edge" / "demo.yaml"
TABLES: list[type[SQLModel]] = [Machine, Station, Tag, User, Tablet, Product, ReasonCode, WorkOrder,
                                OperationRun, ShareLink, InspectionPlan, InspectionRecord]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'takt.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url_fresh")
    eng = make_engine(url)
    init_db(eng)
    yield eng
    eng.dispose()


def secrets_for(codes: list[str]) -> DemoSecrets:
    return DemoSecrets({code: f"tablet-token-{code}-0123456789abcdef" for code in codes}, "share-" + "x" * 40)


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {t.__name__: session.exec(select(func.count()).select_from(t)).one() for t in TABLES}


def test_seed_is_complete_usable_and_idempotent(engine: Engine) -> None:
    plant = load_plant(PLANT)
    codes = [m.code for m in plant]
    assert codes == ["cnc1", "cnc2", "press1", "pack1", "mold1", "mold2"]
    secrets = secrets_for(codes)

    first = seed(engine, secrets, plant, EDGE, accel=1.0)
    assert first.created["work orders"] == 10 and first.created["tablets"] == 6
    assert first.created["machines"] == 6 and first.created["tags"] == first.tags > 6 * 10
    before = counts(engine)

    with Session(engine) as session:
        statuses = {o.number: o.status for o in session.exec(select(WorkOrder))}
        assert statuses == {number: final for number, *_, final, _starts in ORDERS}
        open_runs = session.exec(select(OperationRun).where(col(OperationRun.end_ms).is_(None))).all()
        machines = {m.id: m.code for m in session.exec(select(Machine))}
        assert sorted(machines[r.machine_id] for r in open_runs) == sorted(codes)  # each machine busy once
        assert {r.code for r in session.exec(select(ReasonCode))} >= {"tool_change", "burr"}
        order = sharelinks.resolve_share_token(session, secrets.share_token)
        assert order is not None and order.number == "WO-2311-042"
        settings = Settings(database_url=str(engine.url), demo_mode=True)
        token = secrets.tablet_tokens["press1"]
        assert (
            signin.badge_sign_in(
                session, settings, "press1", token, ("1001", "1234"), "127.0.0.1"
            ).user.username
            == "wangfang"
        )
        assert (
            signin.password_sign_in(session, settings, "boss", "takt-boss", "127.0.0.1").user.role
            == "supervisor"
        )

    again = seed(engine, secrets, plant, EDGE, accel=60.0)
    assert again.created == {}
    after = counts(engine)
    assert after == before
    with Session(engine) as session:
        press = session.exec(select(Machine).where(Machine.code == "press1")).one()
        assert press.ideal_cycle_s == pytest.approx(2 / 60)

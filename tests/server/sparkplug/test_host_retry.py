"""A Sparkplug message whose transaction fails (a real database error: the count table is renamed away for
the moment) is retried with the session rules as they were before it: no false seq gap, no rebirth asked,
no data-loss episode, and its parts are counted once it goes through (server/ingest/sparkplug.py)."""

from typing import Any

from sqlalchemy import Engine, func, text
from sqlmodel import Session, select

from server.core.settings import Settings
from server.historian.sql import SqlHistorian
from server.ingest.metrics import Metrics
from server.ingest.options import IngestOptions
from server.ingest.registry import Registry
from server.ingest.sparkplug import SparkplugHost
from server.ingest.sparkplug_apply import Target, edge_id_of
from server.models.ingest import CountEvent, DataLossEpisode
from server.models.plant import Tag
from tests.server.ingest.support import make_plant
from tests.server.sparkplug.test_session import GROUP, NODE_ID, dbirth, ddata, nbirth


def test_a_failed_transaction_is_retried_without_a_gap_of_its_own_making(engine: Engine) -> None:
    plant = make_plant(engine, ("M1",), owners={"M1": edge_id_of(GROUP, NODE_ID)})
    with Session(engine) as session:  # the metric `good` of the session tests' births, as mapped
        session.add(Tag(machine_id=plant.machines["M1"], name="good", role="counter", width=32))
        session.commit()
    settings = Settings(secret_key="test-secret-key-0123456789abcdef", sparkplug_groups=[GROUP],  # type: ignore[arg-type]
                        _env_file=None)  # type: ignore[call-arg]  # fmt: skip
    registry = Registry(engine)
    target = Target(engine, registry, SqlHistorian(engine), IngestOptions(), Metrics(), "demo")
    host = SparkplugHost(settings, target, lambda _points: None, lambda _events: None)
    asked: list[tuple[str, str]] = []
    host._ask_rebirth = lambda group, node, _now: asked.append((group, node))  # type: ignore[method-assign]

    def wire(*messages: tuple[str, Any]) -> list[tuple[str, bytes, int]]:
        return [(topic, payload.SerializeToString(), 1000) for topic, payload in messages]

    assert host._try(wire(nbirth(0), dbirth(1), ddata(2, 10)))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE ingest_count_event RENAME TO count_event_away"))
    try:
        assert not host._try(wire(ddata(3, 15, ts=3000)))  # the database refuses it
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE count_event_away RENAME TO ingest_count_event"))
    assert host._try(wire(ddata(3, 15, ts=3000)))  # the same message again: seq 3 is still the next one
    assert host._try(wire(ddata(4, 18, ts=4000)))
    with Session(engine) as session:
        good = session.exec(
            select(func.sum(CountEvent.good)).where(CountEvent.machine_id == plant.machines["M1"])
        ).one()
        losses = session.exec(select(DataLossEpisode)).all()
    assert (good, losses, asked) == (8, [], [])

"""A race only replicas have: `inbox.store` reads the edge's cursor, then inserts. When another replica
stores, applies and deletes the same seq in between (a redelivered duplicate racing its original), the
insert succeeds and leaves a copy of an applied seq in the inbox. It must never count again, and it must
not stay: every replica would retry the edge on every tick for as long as it stays."""

from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from server.ingest import Ingestor
from server.ingest.apply import apply_edge
from server.ingest.inbox import StoredBatch, store
from server.models.ingest import CountEvent, EdgeCursor, InboxBatch
from tests.server.ingest.conftest import FAST, ingest_settings
from tests.server.ingest.support import EDGE, SITE, counts, make_plant


def _stored(seq: int, good: int) -> StoredBatch:
    payload = counts(seq, good=good)
    return StoredBatch(SITE, EDGE, seq, 3, payload)


@pytest.mark.postgres
def test_a_duplicate_stored_while_another_replica_applies_it_is_dropped_not_counted(
    engine: Engine, pg_url_fresh: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_plant(engine)
    replica = Ingestor(ingest_settings(pg_url_fresh, port=1), engine, FAST)  # never connected
    store(engine, [_stored(1, good=100)], [], set(), 0)
    assert apply_edge(replica.ctx, EDGE).last_applied == 1  # baseline

    real_execute = Session.execute
    raced: list[bool] = []

    def execute(self: Session, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = real_execute(self, statement, *args, **kwargs)
        if not raced and "FROM ingest_edge_cursor" in str(statement):
            raced.append(True)  # the other replica stores and applies seq 2 right now
            store(engine, [_stored(2, good=105)], [], {EDGE}, 0)
            assert apply_edge(replica.ctx, EDGE).last_applied == 2
        return result

    monkeypatch.setattr(Session, "execute", execute)
    store(engine, [_stored(2, good=105)], [], {EDGE}, 0)  # the duplicate, read the cursor at 1
    monkeypatch.undo()
    assert raced

    apply_edge(replica.ctx, EDGE)  # what every replica's tick does for an edge with stored batches
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(InboxBatch)).one() == 0
        assert session.exec(select(func.sum(CountEvent.good))).one() == 5
        assert session.get(EdgeCursor, EDGE).last_applied_seq == 2  # type: ignore[union-attr]

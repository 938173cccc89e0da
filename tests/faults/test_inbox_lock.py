"""The durable inbox under write contention on SQLite (seen in the demo as "database is locked"):
`store()` takes the write lock first (BEGIN IMMEDIATE), so its read-then-insert never has to upgrade a read
transaction while another writer commits; it waits its turn instead of failing."""

import threading
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from server.core.db import init_db, make_engine, session_scope
from server.ingest.apply import record_gap
from server.ingest.inbox import StoredBatch, store
from server.models.ingest import InboxBatch

WRITERS, PASSES, PER_PASS = 4, 40, 10


def test_concurrent_inbox_writers_never_hit_database_is_locked(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'takt.db'}")
    init_db(engine)
    errors: list[BaseException] = []
    known: list[set[str]] = [set() for _ in range(WRITERS)]

    def writer(n: int) -> None:
        try:
            for p in range(PASSES):
                # every writer stores the same seqs of two edges (replicas of a shared subscription) ...
                batches = [StoredBatch("demo", f"edge-{(n + k) % 2}", p * PER_PASS + k + 1, 1, b"{}")
                           for k in range(PER_PASS)]  # fmt: skip
                store(engine, batches, [], known[n], p)
                # ... and other ingest writes interleave (gap events)
                record_gap(engine, f"edge-{n}", p, p)
                with session_scope(engine) as session:  # a web request writing
                    session.exec(select(func.count()).select_from(InboxBatch)).one()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with Session(engine) as session:
        rows = session.exec(select(InboxBatch.edge_id, InboxBatch.seq)).all()
    assert sorted(rows) == sorted((f"edge-{e}", s) for e in (0, 1) for s in range(1, PASSES * PER_PASS + 1))
    engine.dispose()

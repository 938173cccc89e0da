"""Engines, sessions and migrations. Sync SQLAlchemy everywhere: the ingest runs in threads.

SQLite runs in WAL mode with a busy timeout and foreign keys on. pysqlite's own transaction handling is
switched off so that SQLAlchemy emits BEGIN itself; `lock_for_write(session)` (call it first in a session)
makes that `BEGIN IMMEDIATE` on SQLite, taking the database write lock up front. On PostgreSQL use
`SELECT ... FOR UPDATE` (`with_for_update()`) on the rows you change.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from alembic import command
from alembic.config import Config
from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlmodel import Session

from server.core.services import EngineDep

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BEGIN = "takt_sqlite_begin"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    """An engine for `url`: SQLite (file made in its folder) or PostgreSQL (pre-ping)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # A pool as large as the requests served at once (a count event re-reads a dozen tablets together):
    # past pool_size every checkout opened a connection and ran the PRAGMAs below (bench_steady).
    pool: dict[str, int] = {"pool_size": 20, "max_overflow": 30} if path and path != ":memory:" else {}
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN (see module docstring)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")  # an acked batch must survive a power cut (reliability.md)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def lock_for_write(session: Session) -> None:
    """Start the session's transaction holding the write lock on SQLite (BEGIN IMMEDIATE).

    Must be the first thing done in the session's transaction. No-op on PostgreSQL, where callers
    lock rows with `with_for_update()`.
    """
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("lock_for_write() must come before any change in the transaction")
        session.rollback()  # only reads so far: start over holding the lock
    session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def init_db(engine: Engine, revision: str = "head") -> None:
    """Run Alembic `upgrade` to `revision` on this engine (never create_all)."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
    log.info("database at revision %s", revision)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session for writing (write lock per transaction on SQLite), committed on success and rolled back
    on error."""
    session = Session(writer(engine), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def writer(engine: Engine) -> Engine:
    """`engine` whose every transaction starts with the write lock on SQLite (BEGIN IMMEDIATE).

    A deferred SQLite transaction that reads, then writes after another connection committed (the
    ingest commits all the time) fails at once with SQLITE_BUSY; an immediate one waits its turn.
    """
    if not is_sqlite(engine):
        return engine
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})


def get_session(request: Request, engine: EngineDep) -> Iterator[Session]:
    """The request's session; requests that may write take SQLite's write lock per transaction."""
    if request.method not in READ_METHODS:
        engine = writer(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

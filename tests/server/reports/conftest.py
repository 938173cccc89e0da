"""Reports fixtures: a migrated SQLite database copied per test (migrating once keeps the tests fast)."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from server.core.db import init_db, make_engine


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reports_template") / "takt.db"
    eng = make_engine(f"sqlite:///{path}")
    init_db(eng)
    eng.dispose()
    return path


@pytest.fixture
def engine(migrated_db: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "takt.db"
    shutil.copy(migrated_db, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


@pytest.fixture
def both_engines(db_url: str) -> Iterator[Engine]:
    """A migrated engine on each of SQLite and PostgreSQL (tests/server/conftest.py's `db_url`), for the
    queries written per dialect."""
    eng = make_engine(db_url)
    init_db(eng)
    yield eng
    eng.dispose()

"""End-to-end fixtures: a database on each engine (SQLite file, fresh PostgreSQL), migrated."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from server.core.db import init_db, make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'takt.db'}"
    url: str = request.getfixturevalue("pg_url_fresh")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    init_db(eng)
    yield eng
    eng.dispose()

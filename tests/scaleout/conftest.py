"""Scale-out fixtures: one PostgreSQL database, migrated once, as every replica shares it."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from server.core.db import init_db, make_engine


@pytest.fixture
def engine(pg_url_fresh: str) -> Iterator[Engine]:
    eng = make_engine(pg_url_fresh)
    init_db(eng)  # `takt server migrate`, once, before any replica starts
    yield eng
    eng.dispose()

"""The fault suite (issue 8): every test collected here carries the `faults` marker (`make faults`)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.faults.plant import Plant
from tests.support.postgres import fresh_database


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = str(config.rootpath / "tests" / "faults")
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.faults)


@contextmanager
def running_plant(workdir: Path, db_url: str | None = None) -> Iterator[Plant]:
    """The fault suite's small plant (tests/faults/plant.py), started for the block, stopped after it."""
    running = Plant(workdir, db_url)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    """The plant on SQLite, one per test module."""
    with running_plant(tmp_path_factory.mktemp("plant")) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def plant_on_each_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Plant]:
    """The plant on SQLite, then on a fresh PostgreSQL database: one per test module and engine."""
    workdir = tmp_path_factory.mktemp(f"plant-{request.param}")
    if request.param == "sqlite":
        with running_plant(workdir) as running:
            yield running
        return
    with fresh_database() as url, running_plant(workdir, url) as running:
        yield running

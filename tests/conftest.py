"""Fixtures that start real things on free loopback ports and stop them afterwards (docs/reliability.md)."""

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.postgres import fresh_database
from tests.support.simulator import Simulator

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with browser tests last, whatever the command line's order: sync Playwright keeps an event
    loop running on the main thread for the rest of the session, where asyncio tests could not run theirs.
    Whole modules move (a stable sort), so their module-scoped fixtures are set up once, as before."""
    with_browser = {item.module for item in items if "browser" in getattr(item, "fixturenames", ())}
    items.sort(key=lambda item: getattr(item, "module", None) in with_browser)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A CLI run in-process (`logging.basicConfig(force=True)`) binds the root logger to this test's
    captured stderr; later tests would log into that closed stream. Put the root logger back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private broker this test may kill and restart; never the machine's shared one."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of an empty PostgreSQL database created for this run and dropped after it."""
    with fresh_database() as url:
        yield url


@pytest.fixture
def pg_url_fresh() -> Iterator[str]:
    """Like pg_url, but a new database for this test alone."""
    with fresh_database() as url:
        yield url


@pytest.fixture
def start_simulator(tmp_path: Path) -> Iterator[Callable[..., Simulator]]:
    """Factory: start_simulator(config=..., accel=...) starts `takt sim` and waits until it is ready."""
    started: list[Simulator] = []

    def start(**kwargs: object) -> Simulator:
        sim = Simulator(tmp_path / f"sim{len(started)}", **kwargs)  # type: ignore[arg-type]
        sim.workdir.mkdir(parents=True, exist_ok=True)
        started.append(sim)
        sim.start()
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def artifacts() -> Path:
    """Folder for screenshots and other files a person may want to look at after a run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

"""Edge fixtures: one simulator (tests/edge/plants/orders.yaml, accel 10) shared by a module."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.edge.support import PLANTS
from tests.support.simulator import Simulator


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """A simulator this module may fault; every test should clear what it sets (POST /faults clear)."""
    workdir: Path = tmp_path_factory.mktemp("sim")
    simulator = Simulator(workdir, config=PLANTS / "orders.yaml", accel=10.0,
                          extra=["--scenario", "none", "--state-dir", str(workdir / "state")])  # fmt: skip
    simulator.start()
    yield simulator
    simulator.stop()

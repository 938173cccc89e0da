"""The fault suite (issue 8): every test collected here carries the `faults` marker (`make faults`)."""

from collections.abc import Iterator

import pytest

from tests.faults.plant import Plant


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = str(config.rootpath / "tests" / "faults")
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    """The fault suite's small plant (tests/faults/plant.py), one per test module."""
    running = Plant(tmp_path_factory.mktemp("plant"))
    try:
        running.start()
        yield running
    finally:
        running.stop()

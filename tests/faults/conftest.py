"""The fault suite (issue 8): every test collected here carries the `faults` marker (`make faults`)."""

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = str(config.rootpath / "tests" / "faults")
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.faults)

"""The ready configs of docs/edge.md ("PLC families"): each loads and validates as it is, and the page
shows each one verbatim (the end-to-end test tests/e2e/test_profiles_e2e.py runs them against the
simulator's floor plant)."""

from pathlib import Path

import pytest

from edge import config
from edge.meaning import StateMap
from tests.support.processes import ROOT

EXAMPLES = sorted((ROOT / "deploy" / "edge" / "examples").glob("*.yaml"))


def test_there_is_an_example_per_family() -> None:
    assert [p.name for p in EXAMPLES] == ["modbus-swapped-words.yaml", "omron-nx.yaml", "siemens-s7.yaml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads_and_validates(path: Path) -> None:
    cfg = config.load(path, env={})
    assert cfg.devices and all(d.tags for d in cfg.devices)
    roles = {t.role for d in cfg.devices for t in d.tags}
    assert {"scrap_counter", "state"} <= roles and roles & {"counter", "total_counter", "cycle_counter"}
    for device in cfg.devices:
        for tag in device.tags:
            if tag.role == "state":
                assert StateMap(tag)(next(iter(tag.states or {"1": ""}))) is not None


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_docs_show_the_example_verbatim(path: Path) -> None:
    page = (ROOT / "docs" / "edge.md").read_text()
    assert f"`{path.name}`:\n```yaml\n{path.read_text()}```" in page


def test_siemens_ids_keep_their_quotes_and_name_the_namespace_by_uri() -> None:
    cfg = config.load(EXAMPLES[2], env={})
    addresses = [str(t.address) for t in cfg.devices[0].tags]
    assert addresses[0] == 'nsu=http://www.siemens.com/simatic-s7-opcua;s="DB_Machine"."shot_count"'


def test_swapped_words_example_reads_low_word_first() -> None:
    cfg = config.load(EXAMPLES[0], env={})
    device = cfg.devices[0]
    assert config.orders(device, device.tags[0]) == ("little", "big", False)


def test_the_examples_show_every_counter_kind() -> None:
    kinds = {t.role for p in EXAMPLES for t in config.load(p, env={}).devices[0].tags}
    assert {"counter", "total_counter", "cycle_counter", "scrap_counter"} <= kinds

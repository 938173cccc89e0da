"""Tag meaning on the edge: state maps, bits, derived states, counter kinds, word/byte layouts
(docs/edge.md, "Tag meaning"); what the birth announces for the server's counting."""

import asyncio

import pytest

from edge import config
from edge.agent import tag_info
from edge.errors import ConfigError
from edge.meaning import StateMap, state_name
from edge.sources.base import SampleRow, make_points
from shared.messages import STATE_CODES

HEAD = """
site: plant
edge_id: e1
devices:
  - name: plc
    protocol: modbus_tcp
    host: 127.0.0.1
    machine: m1
    tags:
"""


def parse(*tags: str) -> config.EdgeConfig:
    return config.parse(HEAD + "".join(f"      - {t}\n" for t in tags), "edge.yaml")


def refused(*tags: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse(*tags)
    return str(err.value)


def only_tag(*tags: str) -> config.Tag:
    return parse(*tags).devices[0].tags[0]


def test_value_map_from_plc_numbers_strings_and_bools() -> None:
    tag = only_tag("{name: State, table: holding, address: 4, role: state, "
                   "states: {0: idle, 1: running, 2: fault, RUN: running, '9': setup}}")  # fmt: skip
    assert tag.states == {"0": "idle", "1": "running", "2": "fault", "RUN": "running", "9": "setup"}
    mapper = StateMap(tag)
    assert [mapper(v) for v in (0, 1, 2, 2.0, "RUN", "run", " RUN ", True, 9, "9")] == [
        0,
        2,
        3,
        3,
        2,
        2,
        2,
        2,
        1,
        1,
    ]
    assert mapper(7) is None and mapper("STOP") is None and mapper(None) is None


def test_bool_and_number_keys_match_either_way() -> None:
    mapper = StateMap(only_tag("{name: Fault, table: holding, address: 1, type: bool, bit: 3, role: state, "
                               "states: {1: fault, 0: running}}"))  # fmt: skip
    assert (mapper(True), mapper(False)) == (STATE_CODES["fault"], STATE_CODES["running"])
    mapper = StateMap(only_tag("{name: Run, table: coil, address: 0, type: bool, role: state, "
                               "states: {true: running, false: off}}"))  # fmt: skip
    assert (mapper(1), mapper(0)) == (STATE_CODES["running"], STATE_CODES["off"])


def test_default_catches_unmapped_values() -> None:
    mapper = StateMap(only_tag("{name: S, table: holding, address: 4, role: state, states: {1: running}, "
                               "default: idle}"))  # fmt: skip
    assert (mapper(1), mapper(99)) == (2, 0)


def test_state_bits_first_listed_set_bit_wins() -> None:
    mapper = StateMap(only_tag("{name: Status, table: holding, address: 6, role: state, "
                               "state_bits: {1: fault, 2: setup, 0: running}, default: idle}"))  # fmt: skip
    assert mapper(0b000) == STATE_CODES["idle"]
    assert mapper(0b001) == STATE_CODES["running"]
    assert mapper(0b011) == STATE_CODES["fault"]  # fault listed first wins over running
    assert mapper(0b101) == STATE_CODES["setup"]
    assert mapper("x") == STATE_CODES["idle"]


def test_no_map_passes_takts_own_codes_only() -> None:
    mapper = StateMap(only_tag("{name: state, table: holding, address: 4, role: state}"))
    assert [mapper(v) for v in range(7)] == list(range(7))
    assert mapper(7) is None and mapper(True) is None
    assert [state_name(c) for c in (0, 2, 6, 9, True)] == ["idle", "running", "off", None, None]


def test_unmapped_value_is_sent_bad_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    cfg = parse("{name: State, table: holding, address: 4, role: state, states: {0: idle, 1: running}}")
    rows: list[SampleRow] = []
    points, _ = make_points(cfg.devices[0], rows.append)
    point = points[0]
    point.report(1, "good", 1000)
    point.report(5, "good", 2000)
    point.report(5, "good", 3000)
    point.report(0, "good", 4000)
    assert rows == [("m1", "State", 1000, 2, "good"), ("m1", "State", 2000, None, "bad"),
                    ("m1", "State", 4000, 0, "good")]  # fmt: skip
    assert point.raw == 0 and point.value == 0
    warnings = [r for r in caplog.records if "maps to no state" in r.getMessage()]
    assert len(warnings) == 1 and "5" in warnings[0].getMessage()


def test_derived_state_from_booleans_of_other_tags() -> None:
    cfg = parse(
        "{name: Running, table: coil, address: 0, type: bool}",
        "{name: Fault, table: coil, address: 1, type: bool}",
        "{name: Setup, table: coil, address: 2, type: bool}",
        "{name: state, role: state, default: idle, derive: [{state: fault, when: {Fault: true}}, "
        "{state: setup, when: {Setup: true, Running: false}}, {state: running, when: {Running: true}}]}",
    )
    rows: list[SampleRow] = []
    points, read = make_points(cfg.devices[0], rows.append)
    assert [p.name for p in read] == ["Running", "Fault", "Setup"]
    running, fault, setup, _ = points

    async def poll(ts: int, *values: bool) -> None:
        for point, value in zip((running, fault, setup), values, strict=True):
            point.report(value, "good", ts)
        await asyncio.sleep(0)  # the derived state is computed once per loop turn

    async def scenario() -> None:
        running.report(True, "good", 500)
        await asyncio.sleep(0)  # Fault and Setup not read yet: nothing sent
        await poll(1000, True, False, False)
        await poll(2000, True, True, False)  # fault wins
        await poll(3000, False, False, True)
        await poll(4000, False, False, False)
        running.stale(5000)
        fault.stale(5000)
        await asyncio.sleep(0)

    asyncio.run(scenario())
    states = [(ts, value, quality) for machine, tag, ts, value, quality in rows if tag == "state"]
    assert states == [(1000, 2, "good"), (2000, 3, "good"), (3000, 1, "good"), (4000, 0, "good"),
                      (5000, 0, "stale")]  # fmt: skip


@pytest.mark.parametrize(
    ("tags", "field", "problem"),
    [
        (["{name: S, table: holding, address: 4, role: state, states: {0: stopped}}"], "states",
         "'stopped'; Takt's states are idle, setup, running, fault, blocked, starved, off"),
        (["{name: S, table: holding, address: 4, states: {0: idle}}"], "states", "only for role: state"),
        (["{name: S, table: holding, address: 4, role: state, states: {0: idle}, state_bits: {0: fault}}"],
         "state_bits", "one of"),
        (["{name: S, table: holding, address: 4, role: state, state_bits: {16: fault}}"], "state_bits",
         "bit 16"),
        (["{name: S, table: holding, address: 4, role: state, scale: 2}"], "scale", "not scaled"),
        (["{name: S, role: state, derive: [{state: fault, when: {Nope: true}}]}"], "derive[0].when", "Nope"),
        (["{name: S, table: holding, address: 4, role: state, derive: [{state: idle, when: {T: true}}]}",
          "{name: T, table: coil, address: 0, type: bool}"], "address", "derived"),
        (["{name: C, table: holding, address: 0, role: counter, scale: 0.5}"], "scale", "raw"),
        (["{name: C, table: holding, address: 0, type: float32, role: counter}"], "type", "whole number"),
        (["{name: C, table: holding, address: 0, type: uint16, role: counter, width: 32}"], "width",
         "do not fit"),
        (["{name: C, table: holding, address: 0, type: uint16, role: counter, reset_value: 70000}"],
         "reset_value", "does not fit"),
        (["{name: C, table: holding, address: 0, role: counter, direction: down}"], "reset_value", "preset"),
        (["{name: C, table: holding, address: 0, role: counter, parts_per_cycle: 4}"], "parts_per_cycle",
         "cycle_counter"),
        (["{name: A, table: holding, address: 0, parts_per_cycle: 4}"], "parts_per_cycle",
         "only for counters"),
        (["{name: G, table: holding, address: 0, role: counter}",
          "{name: T, table: holding, address: 2, role: total_counter}"], "tags[1].role",
         "production counter"),
        (["{name: S1, table: holding, address: 0, role: scrap_counter}",
          "{name: S2, table: holding, address: 2, role: scrap_counter}"], "tags[1].role", "scrap counter"),
        (["{name: A, table: holding, address: 0, type: uint32, order: CDAB, word_order: little}"], "order",
         "or word_order"),
        (["{name: A, table: holding, type: uint32}"], "address", "required"),
    ],
)  # fmt: skip
def test_meaning_is_validated_with_clear_errors(tags: list[str], field: str, problem: str) -> None:
    message = refused(*tags)
    assert f".{field}" in message and problem in message and "edge.yaml" in message


def test_birth_announces_counter_meaning() -> None:
    cfg = parse(
        "{name: Shots, table: holding, address: 0, type: uint32, order: CDAB, role: cycle_counter, "
        "parts_per_cycle: 4}",
        "{name: Remaining, table: holding, address: 2, type: uint16, role: scrap_counter, direction: down, "
        "reset_value: 500}",
        "{name: Temp, table: input, address: 0, type: float32, scale: 0.1}",
    )
    points, _ = make_points(cfg.devices[0], lambda row: None)
    infos = [tag_info(p) for p in points]
    assert [(i.role, i.width, i.direction, i.reset_value, i.parts_per_cycle) for i in infos] == [
        ("cycle_counter", 32, "up", 0, 4), ("scrap_counter", 16, "down", 500, None),
        ("analog", None, "up", 0, None),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("device", "tag", "expected"),
    [
        ("", "", ("big", "big", False)),
        ("", "order: ABCD", ("big", "big", False)),
        ("", "order: CDAB", ("little", "big", False)),
        ("", "order: BADC", ("big", "little", True)),
        ("", "order: DCBA", ("little", "little", True)),
        ("order: CDAB", "", ("little", "big", False)),
        ("order: DCBA", "", ("little", "little", False)),  # a device's bytes: multi-register values only
        ("order: CDAB", "byte_order: little", ("little", "little", True)),
        ("word_order: little", "order: BADC", ("big", "little", True)),
    ],
)
def test_layouts(device: str, tag: str, expected: tuple[str, str, bool]) -> None:
    text = HEAD.replace("    machine: m1\n", f"    machine: m1\n    {device}\n") + (
        f"      - {{name: A, table: holding, address: 0, type: uint32, {tag}}}\n"
    )
    cfg = config.parse(text)
    assert config.orders(cfg.devices[0], cfg.devices[0].tags[0]) == expected

import math
from typing import get_args

import msgspec
import pytest

from shared.errors import PayloadError
from shared.messages import (
    COUNTER_ROLES,
    STATE_CODES,
    Ack,
    BufferStatus,
    Command,
    CommandResult,
    DataBatch,
    DeviceStatus,
    Role,
    Sample,
    StateName,
    Status,
    TagInfo,
    decode,
    encode,
)


def batch(**overrides: object) -> DataBatch:
    fields: dict[str, object] = {
        "edge_id": "line-a",
        "seq": 7,
        "sent_ms": 1_700_000_000_000,
        "samples": [
            Sample("cnc1", "good_count", 1_700_000_000_000, 65535),
            Sample("cnc1", "temperature", 1_700_000_000_001, 71.25, "uncertain"),
            Sample("cnc1", "running", 1_700_000_000_002, True),
            Sample("cnc1", "program", 1_700_000_000_003, "O1234 托架"),
            Sample("cnc1", "spindle_load", 1_700_000_000_004, None, "bad"),
        ],
    }
    fields.update(overrides)
    return DataBatch(**fields)  # type: ignore[arg-type]


def test_data_round_trip_keeps_types() -> None:
    original = batch(historical=True)
    decoded = decode(DataBatch, encode(original))
    assert decoded == original
    assert isinstance(decoded.samples[0].value, int) and isinstance(decoded.samples[2].value, bool)


def test_samples_travel_as_arrays() -> None:
    raw = encode(batch(samples=[Sample("m1", "t", 5, 1)]))
    assert b'"samples":[["m1","t",5,1,"good"]]' in raw


@pytest.mark.parametrize(
    "message",
    [
        Status(
            edge_id="e1", online=True, ts_ms=1, version="0.1.0", next_seq=3,
            devices=[DeviceStatus(name="plc1", connected=False, error="timeout", since_ms=1)],
            buffer=BufferStatus(depth=2, bytes=100, oldest_ms=1, dropped_samples={"analog": 4}),
            tags=[TagInfo(machine="m1", tag="good", role="counter", width=16)],
        ),
        Ack(edge_id="e1", seq=0),
        Command(id="c1", name="write", machine="m1", tag="wo", value="WO-1"),
        CommandResult(id="c1", edge_id="e1", ok=False, error="not writable", ts_ms=2),
    ],
)  # fmt: skip
def test_other_messages_round_trip(message: object) -> None:
    assert decode(type(message), encode(message)) == message  # type: ignore[arg-type,type-var]


@pytest.mark.parametrize(
    "raw,why",
    [
        (b"\xff\xfe not utf8", "malformed"),
        (b'{"v":1,"edge_id":"e","seq":1,"sent_ms":1,"samples":[["m","t",1,NaN,"good"]]}', "malformed"),
        (b'{"v":2,"edge_id":"e","seq":1,"sent_ms":1,"samples":[]}', "v"),
        (b'{"v":1,"edge_id":"E!","seq":1,"sent_ms":1,"samples":[]}', "edge_id"),
        (b'{"v":1,"edge_id":"e","seq":0,"sent_ms":1,"samples":[]}', "seq"),
        (b'{"v":1,"edge_id":"e","seq":"1","sent_ms":1,"samples":[]}', "seq"),
        (b'{"v":1,"edge_id":"e","seq":1,"sent_ms":1,"samples":[["m","t",1,1,"great"]]}', "samples"),
        (b'{"v":1,"edge_id":"e","seq":1,"sent_ms":1,"samples":[["m","t",-5,1]]}', "samples"),
        (b'{"v":1,"edge_id":"e","seq":1,"sent_ms":1,"samples":[["m","t",1,[1]]]}', "samples"),
        (b'{"v":1,"edge_id":"e","seq":1,"sent_ms":1}', "samples"),
        (b"[]", "object"),
    ],
)
def test_malformed_data_rejected_with_reason(raw: bytes, why: str) -> None:
    with pytest.raises(PayloadError) as err:
        decode(DataBatch, raw)
    assert err.value.kind == "data"
    assert why.lower() in err.value.reason.lower()


def test_non_finite_values_refused_on_encode() -> None:
    with pytest.raises(PayloadError):
        encode(batch(samples=[Sample("m1", "t", 1, math.nan)]))


def test_unknown_command_refused() -> None:
    with pytest.raises(PayloadError):
        decode(Command, b'{"v":1,"id":"x","name":"format_disk"}')


def test_tag_meaning_round_trips_and_defaults_for_old_births() -> None:
    counter = TagInfo(machine="m1", tag="Shots", role="cycle_counter", width=32, direction="down",
                      reset_value=1000, parts_per_cycle=4)  # fmt: skip
    status = Status(edge_id="e1", online=True, ts_ms=1, tags=[counter])
    assert decode(Status, encode(status)).tags == [counter]
    old = b'{"edge_id":"e1","online":true,"ts_ms":1,"tags":[{"machine":"m1","tag":"good","role":"counter"}]}'
    tag = decode(Status, old).tags[0]
    assert (tag.direction, tag.reset_value, tag.parts_per_cycle) == ("up", 0, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [("role", "shots"), ("direction", "sideways"), ("reset_value", -1), ("parts_per_cycle", 0)],
)
def test_tag_meaning_is_validated(field: str, value: object) -> None:
    tag: dict[str, object] = {"machine": "m1", "tag": "t", "role": "total_counter", field: value}
    raw = msgspec.json.encode({"edge_id": "e1", "online": True, "ts_ms": 1, "tags": [tag]})
    with pytest.raises(PayloadError, match=field):
        decode(Status, raw)


def test_state_codes_are_the_documented_enum() -> None:
    assert STATE_CODES == {"idle": 0, "setup": 1, "running": 2, "fault": 3, "blocked": 4, "starved": 5,
                           "off": 6}  # fmt: skip
    assert set(STATE_CODES) == set(get_args(StateName))
    assert {"total_counter", "cycle_counter"} <= COUNTER_ROLES <= set(get_args(Role))


_DATA = b'{"v":1,"edge_id":"e1","seq":%s,"sent_ms":%s,"samples":[%s]}'
_STATUS = b'{"v":1,"edge_id":"e1","online":true,"ts_ms":1,%s}'


@pytest.mark.parametrize(
    ("kind", "raw", "where"),
    [
        (DataBatch, _DATA % (b"9223372036854775808", b"1", b""), "$.seq"),
        (DataBatch, _DATA % (b"9007199254740992", b"1", b""), "$.seq"),
        (DataBatch, _DATA % (b"1", b"-1", b""), "$.sent_ms"),
        (DataBatch, _DATA % (b"1", b"99999999999999999", b""), "$.sent_ms"),
        (DataBatch, _DATA % (b"1", b"1", b'["m","t",1,18446744073709551616,"good"]'), "$.samples[0][3]"),
        (DataBatch, _DATA % (b"1", b"1", b'["m","t",1,1e19,"good"]'), "$.samples[0][3]"),
        (DataBatch, _DATA % (b"1", b"1", b'["m","t",1,"' + b"x" * 1001 + b'","good"]'), "$.samples[0][3]"),
        (DataBatch, _DATA % (b"1", b"1", b'["' + b"m" * 129 + b'","t",1,1,"good"]'), "$.samples[0][0]"),
        (Status, _STATUS % b'"version":"' + b"v" * 65 + b'"', "$.version"),
        (Status, _STATUS % b'"next_seq":9223372036854775808', "$.next_seq"),
        (
            Status,
            _STATUS % b'"devices":[{"name":"d","connected":true,"since_ms":-5}]',
            "$.devices[0].since_ms",
        ),
        (
            Status,
            _STATUS % b'"devices":[{"name":"d","connected":true,"error":"' + b"e" * 1001 + b'"}]',
            "$.devices[0].error",
        ),
        (Status, _STATUS % b'"tags":[{"machine":"m","tag":"t","width":65}]', "$.tags[0].width"),
        (
            Status,
            _STATUS % b'"tags":[{"machine":"m","tag":"t","unit":"' + b"u" * 33 + b'"}]',
            "$.tags[0].unit",
        ),
        (Status, _STATUS % b'"buffer":{"depth":-1}', "$.buffer.depth"),
        (Status, _STATUS % b'"buffer":{"bytes":9223372036854775808}', "$.buffer.bytes"),
        (
            Status,
            _STATUS
            % (b'"buffer":{"dropped_samples":{' + b",".join(b'"r%d":1' % i for i in range(17)) + b"}}"),
            "$.buffer.dropped_samples",
        ),
        (CommandResult, b'{"v":1,"id":"' + b"i" * 65 + b'","edge_id":"e1","ok":true,"ts_ms":1}', "$.id"),
        (Ack, b'{"v":1,"edge_id":"e1","seq":9223372036854775808}', "$.seq"),
    ],
)
def test_every_field_is_bounded(kind: type, raw: bytes, where: str) -> None:
    """Nothing a publisher sends may fail later in the database or exhaust memory (issue 18, case 1)."""
    with pytest.raises(PayloadError) as err:
        decode(kind, raw)
    assert where in err.value.reason


def test_the_bounds_keep_what_an_edge_sends() -> None:
    biggest = _DATA % (b"9007199254740991", b"32503680000000", b'["m","t",1,9223372036854775807,"good"]')
    decoded = decode(DataBatch, biggest)
    assert decoded.seq == (1 << 53) - 1 and decoded.samples[0].value == (1 << 63) - 1
    status = decode(
        Status, _STATUS % b'"next_seq":9007199254740991,"buffer":{"dropped_samples":{"analog":5}}'
    )
    assert status.next_seq == (1 << 53) - 1

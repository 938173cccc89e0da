"""The Sparkplug B session rules (server/ingest/sparkplug_session.py) on payloads built message by message."""

from server.ingest.sparkplug_session import NODE, Sessions
from shared.sparkplug.payload import DataType, Payload
from shared.sparkplug.topic import MessageType, parse

GROUP, NODE_ID = "plant", "gw1"


def message(
    kind: MessageType,
    seq: int | None,
    metrics: list[dict[str, object]],
    device: str | None = None,
    ts: int = 1000,
) -> tuple[str, Payload]:
    topic = f"spBv1.0/{GROUP}/{kind}/{NODE_ID}" + (f"/{device}" if device else "")
    payload = Payload(timestamp=ts)
    if seq is not None:
        payload.seq = seq
    for metric in metrics:
        payload.metrics.add(**metric)  # type: ignore[arg-type]
    return topic, payload


def nbirth(bd: int, ts: int = 1000) -> tuple[str, Payload]:
    return message(
        MessageType.NBIRTH, 0, [{"name": "bdSeq", "datatype": DataType.UInt64, "long_value": bd}], ts=ts
    )


def dbirth(seq: int, device: str = "M1", ts: int = 1000) -> tuple[str, Payload]:
    counter = {"name": "good", "alias": 1, "datatype": DataType.UInt32, "int_value": 10}
    temp = {"name": "temp", "alias": 2, "datatype": DataType.Int16, "int_value": (1 << 32) - 3}
    return message(MessageType.DBIRTH, seq, [counter, temp], device, ts)


def ddata(seq: int, good: int, device: str = "M1", ts: int = 2000) -> tuple[str, Payload]:
    return message(MessageType.DDATA, seq, [{"alias": 1, "int_value": good}], device, ts)


def feed(sessions: Sessions, msg: tuple[str, Payload]):  # type: ignore[no-untyped-def]
    return sessions.handle(parse(msg[0]), msg[1], received_ms=5000)


def test_births_then_data_by_alias_with_the_births_types() -> None:
    sessions = Sessions()
    assert feed(sessions, nbirth(7)).values == []  # bdSeq is the session's, not a value
    birth = feed(sessions, dbirth(1))
    assert [(v.metric, v.value) for v in birth.values] == [("good", 10), ("temp", -3)]
    data = feed(sessions, ddata(2, 11))
    assert [(v.device, v.metric, v.value, v.ts_ms) for v in data.values] == [("M1", "good", 11, 2000)]
    assert not data.rebirth and data.loss is None and data.refused == []


def test_a_seq_gap_asks_for_a_rebirth_and_reports_the_span_but_keeps_the_message() -> None:
    sessions = Sessions()
    feed(sessions, nbirth(1))
    feed(sessions, dbirth(1, ts=1000))
    gap = feed(sessions, ddata(5, 20, ts=3000))
    assert gap.rebirth and gap.loss == (1000, 3000)
    assert [v.value for v in gap.values] == [20]
    assert not feed(sessions, ddata(6, 21)).rebirth  # counting on from the message seen


def test_seq_wraps_at_255() -> None:
    sessions = Sessions()
    feed(sessions, nbirth(1))
    feed(sessions, dbirth(1))
    sessions.nodes[(GROUP, NODE_ID)].last_seq = 255
    assert not feed(sessions, ddata(0, 12)).rebirth


def test_data_before_birth_and_unknown_aliases_are_refused_with_a_reason() -> None:
    sessions = Sessions()
    early = feed(sessions, ddata(1, 5))
    assert early.rebirth and early.values == [] and "before its NBIRTH" in early.refused[0]
    feed(sessions, nbirth(1))
    no_device = feed(sessions, ddata(1, 5))
    assert no_device.rebirth and "before its DBIRTH" in no_device.refused[0]
    feed(sessions, dbirth(2))
    odd = feed(
        sessions,
        message(MessageType.DDATA, 3, [{"alias": 99, "int_value": 1}, {"alias": 1, "int_value": 12}], "M1"),
    )
    assert odd.refused == ["M1: unknown metric alias 99"] and [v.value for v in odd.values] == [12]


def test_a_death_of_the_current_bdseq_darkens_every_device_a_stale_one_does_not() -> None:
    sessions = Sessions()
    feed(sessions, nbirth(3))
    feed(sessions, dbirth(1, "M1"))
    feed(sessions, dbirth(2, "M2"))
    stale = message(
        MessageType.NDEATH, None, [{"name": "bdSeq", "datatype": DataType.UInt64, "long_value": 2}]
    )
    assert feed(sessions, stale).dark == []
    death = message(
        MessageType.NDEATH, None, [{"name": "bdSeq", "datatype": DataType.UInt64, "long_value": 3}]
    )
    assert sorted(feed(sessions, death).dark) == sorted([NODE, "M1", "M2"])
    assert feed(sessions, ddata(3, 1)).rebirth  # dead until the next birth
    feed(sessions, nbirth(4))
    feed(sessions, dbirth(1, "M1"))
    device_death = feed(sessions, message(MessageType.DDEATH, 2, [], "M1"))
    assert device_death.dark == ["M1"] and not device_death.rebirth
    assert feed(sessions, ddata(3, 1)).refused == ["DDATA from gw1/M1 before its DBIRTH"]


def test_historical_metrics_are_applied_in_timestamp_order() -> None:
    sessions = Sessions()
    feed(sessions, nbirth(1))
    feed(sessions, dbirth(1))
    late = [
        {"alias": 1, "int_value": 15, "timestamp": 1500, "is_historical": True},
        {"alias": 1, "int_value": 13, "timestamp": 1300, "is_historical": True},
    ]
    out = feed(sessions, message(MessageType.DDATA, 2, late, "M1"))
    assert [(v.ts_ms, v.value, v.historical) for v in out.values] == [(1300, 13, True), (1500, 15, True)]


def test_a_rebirth_keeps_its_session_a_new_bdseq_without_death_reports_a_loss() -> None:
    sessions = Sessions()
    feed(sessions, nbirth(1, ts=1000))
    assert feed(sessions, nbirth(1, ts=2000)).loss is None
    assert feed(sessions, nbirth(2, ts=3000)).loss == (2000, 3000)

"""The Sparkplug B session rules of one host: births kept per edge node and device, bdSeq and seq checked.

`Sessions.handle` takes one decoded message and says what it means, without I/O: the samples to apply
(device id -> machine, metric name -> tag, in timestamp order for historical metrics), whether to ask the
node for a rebirth, a data-loss span, devices that went dark, and the reasons for anything refused.
A gap in seq, an out-of-order message or data before a birth asks for a rebirth and reports the loss; the
message's own metrics are still applied (absolute counter values make that safe), but nothing is guessed
for what is missing.
"""

from dataclasses import dataclass, field

from shared.sparkplug.payload import BD_SEQ, Metric, Payload, PayloadError, ScalarValue, bd_seq, value_of
from shared.sparkplug.topic import MessageType, Topic

NODE = ""  # the device key of an edge node's own metrics


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """A metric as its birth announced it."""

    name: str
    alias: int | None
    datatype: int
    properties: dict[str, ScalarValue]


@dataclass
class Birth:
    """The metrics of one node or device birth, by name and by alias."""

    by_name: dict[str, MetricInfo] = field(default_factory=dict)
    by_alias: dict[int, MetricInfo] = field(default_factory=dict)
    online: bool = True


@dataclass
class NodeSession:
    bd_seq: int | None
    last_seq: int
    last_ms: int
    devices: dict[str, Birth] = field(default_factory=dict)  # NODE -> the node's own birth
    online: bool = True


@dataclass(frozen=True, slots=True)
class Value:
    device: str  # NODE for the node's own metrics
    metric: str
    ts_ms: int
    value: ScalarValue
    datatype: int
    historical: bool


@dataclass
class Outcome:
    values: list[Value] = field(default_factory=list)
    rebirth: bool = False
    loss: tuple[int, int] | None = None  # (from_ms, to_ms): the span whose messages may be missing
    dark: list[str] = field(default_factory=list)  # devices (NODE: the whole node) now without data
    refused: list[str] = field(default_factory=list)  # reasons, one per refused metric or message


NodeKey = tuple[str, str]  # (group, edge node)


@dataclass(frozen=True, slots=True)
class Discovered:
    """A metric some birth announced: what the admin page lists for mapping."""

    group: str
    node: str
    device: str  # NODE for the node's own metrics
    online: bool
    metric: MetricInfo


# per node: its session, then what `handle` may change in it (bdSeq, seq, last time, online, devices'
# births and their online flags)
Snapshot = dict[NodeKey, tuple[NodeSession, int | None, int, int, bool, dict[str, Birth], dict[str, bool]]]


class Sessions:
    """Every edge node's session as this host has seen it."""

    def __init__(self) -> None:
        self.nodes: dict[NodeKey, NodeSession] = {}

    def snapshot(self) -> Snapshot:
        """What `handle` may change, to put back if the messages' transaction fails: a retry then sees the
        same seqs again instead of a gap of its own making."""
        return {
            key: (s, s.bd_seq, s.last_seq, s.last_ms, s.online, dict(s.devices),
                  {device: birth.online for device, birth in s.devices.items()})
            for key, s in self.nodes.items()
        }  # fmt: skip

    def restore(self, snapshot: Snapshot) -> None:
        self.nodes = {}
        for key, (session, bd_seq_, last_seq, last_ms, online, devices, flags) in snapshot.items():
            session.bd_seq, session.last_seq, session.last_ms, session.online = (
                bd_seq_,
                last_seq,
                last_ms,
                online,
            )
            session.devices = devices
            for device, birth in devices.items():
                birth.online = flags[device]
            self.nodes[key] = session

    def discovered(self) -> list[Discovered]:
        found = [
            Discovered(group, node, device, session.online and birth.online, info)
            for (group, node), session in self.nodes.items()
            for device, birth in session.devices.items()
            for info in birth.by_name.values()
            if info.name != BD_SEQ
        ]
        return sorted(found, key=lambda d: (d.group, d.node, d.device, d.metric.name))

    def handle(self, topic: Topic, payload: Payload, received_ms: int) -> Outcome:
        key, out = (topic.group, topic.node), Outcome()
        ts_ms = payload.timestamp or received_ms
        if topic.type == MessageType.NBIRTH:
            self._node_birth(key, payload, ts_ms, out)
            return out
        session = self.nodes.get(key)
        if topic.type == MessageType.NDEATH:
            self._node_death(session, payload, out)
            return out
        if topic.type in (MessageType.NCMD, MessageType.DCMD):
            return out  # commands are for the node, not for the host
        if session is None or not session.online:
            out.rebirth = True
            out.refused.append(f"{topic.type} from {topic.node} before its NBIRTH")
            return out
        self._check_seq(session, payload, ts_ms, out)
        device = topic.device if topic.device is not None else NODE
        if topic.type == MessageType.DBIRTH:
            session.devices[device] = _birth(payload, out)
            out.values.extend(self._values(device, session.devices[device], payload, ts_ms, out))
        elif topic.type == MessageType.DDEATH:
            birth = session.devices.get(device)
            if birth is not None:
                birth.online = False
            out.dark.append(device)
        else:  # NDATA, DDATA
            birth = session.devices.get(device)
            if birth is None or not birth.online:
                out.rebirth = True
                out.refused.append(f"{topic.type} from {topic.node}/{device} before its DBIRTH")
                return out
            out.values.extend(self._values(device, birth, payload, ts_ms, out))
        return out

    def _node_birth(self, key: NodeKey, payload: Payload, ts_ms: int, out: Outcome) -> None:
        old, new_bd_seq = self.nodes.get(key), bd_seq(payload)
        if old is not None and old.online and old.bd_seq != new_bd_seq:
            # a new session without its old one's death: messages in between may be lost (a rebirth keeps
            # its session's bdSeq and loses nothing)
            out.loss = (old.last_ms, max(ts_ms, old.last_ms))
        birth = _birth(payload, out)
        session = NodeSession(new_bd_seq, payload.seq, ts_ms, {NODE: birth})
        self.nodes[key] = session
        out.values.extend(self._values(NODE, birth, payload, ts_ms, out))

    def _node_death(self, session: NodeSession | None, payload: Payload, out: Outcome) -> None:
        if session is None or not session.online:
            return
        death_seq = bd_seq(payload)
        if death_seq is not None and session.bd_seq is not None and death_seq != session.bd_seq:
            return  # an older session's will, delivered late: the current session lives on
        session.online = False
        out.dark.extend(session.devices)

    @staticmethod
    def _check_seq(session: NodeSession, payload: Payload, ts_ms: int, out: Outcome) -> None:
        expected = (session.last_seq + 1) % 256
        if not payload.HasField("seq") or payload.seq != expected:
            out.rebirth = True
            out.loss = (session.last_ms, ts_ms)
        session.last_seq = payload.seq
        session.last_ms = max(session.last_ms, ts_ms)

    @staticmethod
    def _values(device: str, birth: Birth, payload: Payload, ts_ms: int, out: Outcome) -> list[Value]:
        values: list[Value] = []
        for metric in payload.metrics:
            info = _lookup(birth, metric)
            if info is None:
                out.refused.append(f"{device or 'node'}: unknown metric alias {metric.alias}")
                continue
            if info.name == BD_SEQ:
                continue
            try:
                value = value_of(metric, metric.datatype or info.datatype)
            except PayloadError as exc:
                out.refused.append(str(exc))
                continue
            when = metric.timestamp or ts_ms
            values.append(Value(device, info.name, when, value, info.datatype, metric.is_historical))
        values.sort(key=lambda v: v.ts_ms)  # historical metrics from a node's store are applied in order
        return values


def _lookup(birth: Birth, metric: Metric) -> MetricInfo | None:
    if metric.name:
        return birth.by_name.get(metric.name)
    return birth.by_alias.get(metric.alias) if metric.HasField("alias") else None


def _birth(payload: Payload, out: Outcome) -> Birth:
    birth = Birth()
    for metric in payload.metrics:
        if not metric.name:
            out.refused.append(f"birth metric without a name (alias {metric.alias})")
            continue
        properties: dict[str, ScalarValue] = {}
        for key, prop in zip(metric.properties.keys, metric.properties.values, strict=False):
            field_name = prop.WhichOneof("value")
            if field_name is not None and not field_name.startswith("property"):
                properties[key] = getattr(prop, field_name)
        info = MetricInfo(
            metric.name, metric.alias if metric.HasField("alias") else None, metric.datatype, properties
        )
        birth.by_name[info.name] = info
        if info.alias is not None:
            birth.by_alias[info.alias] = info
    return birth

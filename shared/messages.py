"""Typed MQTT payloads (docs/ingest.md), JSON via msgspec (about 5x faster than stdlib json on a batch).

Every payload carries `v` (the contract version). Decoding validates types, ranges and ids; anything
else raises PayloadError with a reason fit for a dead-letter record. Samples travel as compact arrays:
`[machine, tag, ts_ms, value, quality]`.

Every field is bounded here, at the codec, so that nothing a publisher sends can fail later in the
database (an integer beyond 64 bits, a text longer than its column) or exhaust memory: seqs up to
2^53 - 1 (exact in JSON everywhere, 285,000 years at 1,000 messages a second), timestamps and counts
within int64, numbers within +-9.2e18, strings and lists of a fixed maximum length (docs/reliability.md).
"""

import math
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from shared.errors import PayloadError
from shared.topics import ID_PATTERN

VERSION = 1
MAX_SAMPLES_PER_BATCH = 10_000
MAX_SEQ = (1 << 53) - 1
MAX_INT64 = (1 << 63) - 1
MAX_TEXT = 1000  # free text: versions, errors, device names
MAX_DEVICES = 1000
MAX_TAGS = 10_000

EdgeId = Annotated[str, msgspec.Meta(pattern=f"^{ID_PATTERN}$")]
MachineId = Annotated[str, msgspec.Meta(pattern=f"^{ID_PATTERN}$")]
TagName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
# Inside a batch only lengths are checked: a regex per sample costs 6x the decode time, and the server
# looks every (machine, tag) up in its registry anyway (unknown ones are counted and logged once).
SampleName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Seq = Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
TimestampMs = Annotated[int, msgspec.Meta(ge=0, le=32_503_680_000_000)]  # up to year 3000
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
# a value fits the database's BIGINT and DOUBLE, and a float that is a whole number stays within int64
Value = (
    Annotated[int, msgspec.Meta(ge=-MAX_INT64 - 1, le=MAX_INT64)]
    | Annotated[float, msgspec.Meta(ge=-9.2e18, le=9.2e18)]
    | bool
    | Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
    | None
)
Version = Literal[1]

Quality = Literal["good", "uncertain", "bad", "stale"]
"""good: read fine. uncertain: read, but the source doubts it. bad: the read failed (value is None or
the last good value). stale: the device stopped answering; the value is the last one known."""

Role = Literal[
    "counter", "scrap_counter", "total_counter", "cycle_counter", "run", "state", "fault", "analog"
]
"""What a tag's value means (docs/contracts.md, "Tag meaning"). Counters: `counter` good parts,
`scrap_counter` scrap parts, `total_counter` good + scrap (good = total - scrap), `cycle_counter` machine
cycles (parts = cycles x parts per cycle, counted as total). `state` carries one of STATE_CODES (the edge
maps the PLC's own values), `run` and `fault` booleans, `analog` anything else."""
COUNTER_ROLES = frozenset({"counter", "scrap_counter", "total_counter", "cycle_counter"})
STATE_ROLES = frozenset({"run", "state", "fault"})
STATE_CODES: dict[str, int] = {
    "idle": 0, "setup": 1, "running": 2, "fault": 3, "blocked": 4, "starved": 5, "off": 6,
}  # fmt: skip
"""Takt's machine states as a `state` sample carries them; the edge maps a PLC's values to these."""
StateName = Literal["idle", "setup", "running", "fault", "blocked", "starved", "off"]
Direction = Literal["up", "down"]


class Sample(msgspec.Struct, array_like=True, frozen=True, gc=False):
    machine: SampleName
    tag: SampleName
    ts_ms: TimestampMs
    value: Value
    quality: Quality = "good"


class DataBatch(msgspec.Struct, kw_only=True, frozen=True):
    """One MQTT data message. `seq` rises by one per message for the edge's whole life."""

    v: Version = 1
    edge_id: EdgeId
    seq: Seq
    sent_ms: TimestampMs
    historical: bool = False  # True when replayed from the outbox after an outage
    samples: Annotated[list[Sample], msgspec.Meta(max_length=MAX_SAMPLES_PER_BATCH)]


class DeviceStatus(msgspec.Struct, kw_only=True, frozen=True):
    name: Annotated[str, msgspec.Meta(max_length=128)]
    connected: bool
    error: Text | None = None
    since_ms: TimestampMs | None = None


class TagInfo(msgspec.Struct, kw_only=True, frozen=True):
    """A tag as the edge is configured to read it (announced in the birth message)."""

    machine: MachineId
    tag: TagName
    role: Role = "analog"
    # counter width in bits (16, 32 or 64): the value wraps at 2**width
    width: Annotated[int, msgspec.Meta(ge=1, le=64)] | None = None
    unit: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    writable: bool = False
    # counters only (docs/contracts.md, "Tag meaning"):
    direction: Direction = "up"  # "down": each step down is a part; a rise is a reload or a wrap
    reset_value: Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)] = (
        0  # what a reset lands on (a down counter's preset)
    )
    parts_per_cycle: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = (
        None  # cycle_counter: fixed by the edge;
    )
    # None: the server takes the cavities of the product, mold or work order (1 when none is set)


class BufferStatus(msgspec.Struct, kw_only=True, frozen=True):
    depth: Count = 0  # batches waiting for the server's ack
    bytes: Count = 0
    oldest_ms: TimestampMs | None = None
    # by role: what the drop policy removed, never silently
    dropped_samples: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=32)], Count], msgspec.Meta(max_length=16)
    ] = {}
    # sample times of what was dropped since the outbox was last empty: where the trends have holes
    dropped_from_ms: TimestampMs | None = None
    dropped_to_ms: TimestampMs | None = None
    disk_full_errors: Count = 0  # outbox writes refused by a full disk since the agent started


class Status(msgspec.Struct, kw_only=True, frozen=True):
    """Retained birth message, republished on change; the last will is the same with online=False."""

    v: Version = 1
    edge_id: EdgeId
    online: bool
    ts_ms: TimestampMs
    version: Annotated[str, msgspec.Meta(max_length=64)] = ""
    next_seq: Seq | None = None
    devices: Annotated[list[DeviceStatus], msgspec.Meta(max_length=MAX_DEVICES)] = []
    buffer: BufferStatus | None = None
    tags: Annotated[list[TagInfo], msgspec.Meta(max_length=MAX_TAGS)] = []
    # the order of an edge's statuses (docs/contracts.md, "Status"): `session` numbers the edge's MQTT
    # connections, rising across reconnects and restarts; the last will carries its connection's number.
    # `n` numbers the statuses of one connection (None on the will). Older edges send neither.
    session: Seq | None = None
    n: Seq | None = None


class Alive(msgspec.Struct, kw_only=True, frozen=True):
    """Edge -> server heartbeat (QoS 0, every keepalive / 3 s while connected): lets the server see a
    silent edge within keepalive x 1.5, sooner than the broker's will (docs/ingest.md, "Edge status")."""

    v: Version = 1
    edge_id: EdgeId
    session: Seq  # the connection it is sent on (as in Status)
    ts_ms: TimestampMs
    keepalive_s: Annotated[int, msgspec.Meta(ge=1, le=3600)]


class Ack(msgspec.Struct, kw_only=True, frozen=True):
    """Server -> edge: every batch with seq <= `seq` is committed; the edge may delete them."""

    v: Version = 1
    edge_id: EdgeId
    seq: Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]


class Command(msgspec.Struct, kw_only=True, frozen=True):
    """Server -> edge on cmd/{name}. `write` needs machine, tag and value; `reload` needs nothing."""

    v: Version = 1
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    name: Literal["write", "reload"]
    machine: MachineId | None = None
    tag: TagName | None = None
    value: Value = None


class CommandResult(msgspec.Struct, kw_only=True, frozen=True):
    v: Version = 1
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    edge_id: EdgeId
    ok: bool
    error: Text | None = None
    ts_ms: TimestampMs


Message = DataBatch | Status | Alive | Ack | Command | CommandResult
M = TypeVar("M", DataBatch, Status, Alive, Ack, Command, CommandResult)

_encoder = msgspec.json.Encoder()
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_KIND_NAMES = {
    DataBatch: "data",
    Status: "status",
    Alive: "alive",
    Ack: "ack",
    Command: "command",
    CommandResult: "result",
}


def encode(message: Message) -> bytes:
    """Serialise a payload. Refuses non-finite floats, which JSON cannot carry."""
    if isinstance(message, DataBatch):
        for sample in message.samples:
            if isinstance(sample.value, float) and not math.isfinite(sample.value):
                raise PayloadError("data", f"non-finite value for {sample.machine}/{sample.tag}")
    return _encoder.encode(message)


def decode(kind: type[M], raw: bytes) -> M:
    """Decode and validate `raw` as `kind`; raise PayloadError with the reason."""
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        return decoder.decode(raw)  # type: ignore[no-any-return]
    except msgspec.DecodeError as err:  # ValidationError is a subclass
        raise PayloadError(_KIND_NAMES[kind], str(err)) from err

"""The edge config (YAML): typed msgspec structs plus the checks a type cannot express.

Loading: read the file, substitute `${VAR}` / `${VAR:-default}`, parse YAML, convert to structs
(`strict=False`, so "1883" from an env var becomes an int), then `check()` cross-field rules. Every
problem becomes a ConfigError naming the file, the field (`devices[0].tags[3].type`) and the problem.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import msgspec
import yaml

from edge.errors import ConfigError
from shared.messages import COUNTER_ROLES, STATE_ROLES, Direction, Role, StateName

ID = r"^[a-z0-9_-]{1,64}$"
TAG_NAME = r"^[A-Za-z0-9_.:-]{1,128}$"
Id = Annotated[str, msgspec.Meta(pattern=ID)]
Order = Literal["big", "little"]
Layout = Literal["ABCD", "CDAB", "BADC", "DCBA"]  # shorthand for word_order + byte_order
LAYOUTS: dict[str, tuple[Order, Order]] = {
    "ABCD": ("big", "big"), "CDAB": ("little", "big"),  # high word first / low word first
    "BADC": ("big", "little"), "DCBA": ("little", "little"),  # the same with each register's bytes swapped
}  # fmt: skip
Protocol = Literal["modbus_tcp", "modbus_rtu", "opcua"]
Table = Literal["coil", "discrete", "holding", "input"]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
_TYPE_RE = re.compile(r"^(bool|int16|uint16|int32|uint32|int64|uint64|float32|float64|string\((\d{1,3})\))$")
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}")
PROTECTED_ROLES = COUNTER_ROLES | STATE_ROLES
PRODUCTION_COUNTERS = frozenset({"counter", "total_counter", "cycle_counter"})  # at most one per machine
_TYPE_BITS = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64}


class Tls(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False  # skip host name check (self-signed lab brokers only)


class Broker(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 1883
    tls: Tls | None = None
    username: str | None = None
    password: str | None = None
    keepalive: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    reconnect_max_s: Annotated[int, msgspec.Meta(ge=1, le=300)] = 10
    client_id: str | None = None  # default: takt-edge-{site}-{edge_id} (stable: persistent session)


class Buffer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    path: str = "takt-edge-outbox.db"
    max_bytes: Annotated[int, msgspec.Meta(ge=10_000)] = 200_000_000
    max_age_s: Annotated[float, msgspec.Meta(gt=0)] = 7 * 86400.0
    fsync: Literal["full", "normal"] = "full"


class Batching(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    max_samples: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 500
    max_delay_ms: Annotated[int, msgspec.Meta(ge=1, le=60_000)] = 100


class Publishing(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    max_inflight: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 50  # batches sent, not yet acked
    replay_rate: Annotated[float, msgspec.Meta(gt=0)] = 200.0  # batches/s from the backlog
    ack_timeout_s: PositiveFloat = 30.0  # no ack progress for this long: resend from the last ack
    historical_after_ms: Annotated[int, msgspec.Meta(ge=0)] = 2000
    status_interval_s: PositiveFloat = 30.0


class Logging(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Serial(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    port: str
    baudrate: Annotated[int, msgspec.Meta(ge=300)] = 19200
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class Trust(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """OPC UA server trust by a list: CA (or self-signed server) certificates and revocation lists."""

    certificates: Annotated[list[str], msgspec.Meta(min_length=1)]  # files or folders, DER or PEM
    crls: list[str] = []  # files or folders, DER or PEM; each must be signed by a trusted certificate


class StateRule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """One line of a state derived from booleans: `state` when every named tag has the given value."""

    state: StateName
    when: Annotated[dict[str, bool], msgspec.Meta(min_length=1)]  # tag name (same device) -> value


class Tag(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    name: Annotated[str, msgspec.Meta(pattern=TAG_NAME)]
    machine: Id | None = None  # default: the device's machine
    # Modbus: register/bit number; OPC UA: node id ("ns=2;s=x", "nsu=urn:x;s=y") or browse path;
    # none for a state derived from other tags (`derive`)
    address: int | str | None = None
    table: Table | None = None  # Modbus only
    type: str = "uint16"
    bit: Annotated[int, msgspec.Meta(ge=0, le=15)] | None = None  # a bit of a holding/input register
    order: Layout | None = None  # ABCD, CDAB, BADC or DCBA (instead of word_order + byte_order)
    word_order: Order | None = None
    byte_order: Order | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    role: Role = "analog"
    # counters (docs/contracts.md, "Tag meaning"): the raw value wraps at 2**width
    width: Literal[16, 32, 64] | None = None  # default: the integer type's bits
    direction: Direction = "up"
    reset_value: Annotated[int, msgspec.Meta(ge=0)] = 0
    parts_per_cycle: Annotated[int, msgspec.Meta(ge=1)] | None = None  # cycle_counter: cavities
    # states: the PLC's values -> Takt's states (keys: numbers, true/false or strings)
    states: dict[str, StateName] | None = None
    state_bits: dict[int, StateName] | None = None  # bit number -> state; the first set bit listed wins
    derive: list[StateRule] | None = None  # the first rule whose booleans all match wins
    default: StateName | None = None  # a value no map knows, no bit set, no rule matched
    poll_ms: Annotated[int, msgspec.Meta(ge=10)] | None = None
    deadband: float | str | None = None  # absolute (0.5) or percent of the last value ("2%")
    max_silence_s: PositiveFloat | None = None  # report at least this often even if unchanged
    report: Literal["change", "always"] = "change"
    writable: bool = False


class Device(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    name: Id
    protocol: Protocol
    machine: Id | None = None
    enabled: bool = True
    # Modbus TCP
    host: str | None = None
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 502
    # Modbus RTU
    serial: Serial | None = None
    inter_request_delay_ms: Annotated[int, msgspec.Meta(ge=0)] = 5
    # Modbus common
    unit_id: Annotated[int, msgspec.Meta(ge=0, le=255)] = 1
    timeout_s: PositiveFloat = 1.0
    max_registers: Annotated[int, msgspec.Meta(ge=1, le=125)] = 125
    max_bits: Annotated[int, msgspec.Meta(ge=1, le=2000)] = 2000
    max_gap: Annotated[int, msgspec.Meta(ge=0, le=124)] = 10
    order: Layout | None = None  # ABCD, CDAB, BADC or DCBA (instead of word_order + byte_order)
    word_order: Order = "big"
    byte_order: Order = "big"
    bad_recheck_s: PositiveFloat = 300.0
    # OPC UA
    endpoint: str | None = None
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: str | None = None
    private_key: str | None = None
    server_certificate: str | None = None  # pinned: the one certificate the server must present
    trust: Trust | None = None  # or: any server certificate that chains to these (and is not revoked)
    application_uri: str = "urn:takt:edge"  # must match the URI in `certificate` (takt edge cert writes it)
    username: str | None = None
    password: str | None = None
    sampling_ms: Annotated[int, msgspec.Meta(ge=0)] = 100
    publishing_ms: Annotated[int, msgspec.Meta(ge=10)] = 100
    mode: Literal["subscribe", "poll"] = "subscribe"
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 500  # monitored items per request
    watchdog_s: PositiveFloat = 2.0
    # Common
    poll_ms: Annotated[int, msgspec.Meta(ge=10)] = 1000
    backoff_max_s: PositiveFloat = 30.0
    tags: list[Tag] = []


SparkplugId = Annotated[str, msgspec.Meta(pattern=r"^[^/+#\s]{1,64}$")]  # Sparkplug 3.0: no / + #


class SparkplugOut(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Also publish the machines as a Sparkplug B edge node (docs/sparkplug.md, "Egress")."""

    group: SparkplugId
    node: SparkplugId | None = None  # default: the edge id
    broker: Broker | None = None  # default: the edge's broker (with its own client id)
    publish_ms: Annotated[int, msgspec.Meta(ge=10, le=60_000)] = 200  # DDATA at most this often per machine
    queue: Annotated[int, msgspec.Meta(ge=100)] = 100_000  # samples waiting; more are dropped (counted)


class EdgeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    site: Id
    edge_id: Id
    broker: Broker = Broker()
    sparkplug: SparkplugOut | None = None
    buffer: Buffer = Buffer()
    batching: Batching = Batching()
    publishing: Publishing = Publishing()
    logging: Logging = Logging()
    devices: list[Device] = []
    source: str = ""  # the file it was read from (set by load)


def substitute_env(text: str, file: str, env: dict[str, str] | None = None) -> str:
    """Replace `${VAR}` and `${VAR:-default}`; an unset VAR without a default is an error."""
    environ = os.environ if env is None else env

    def repl(match: re.Match[str]) -> str:
        name, has_default, default = match.group(1), match.group(2), match.group(3)
        if name in environ and (environ[name] or not has_default):
            return environ[name]
        if has_default is not None:
            return default or ""
        line = text.count("\n", 0, match.start()) + 1
        raise ConfigError(file, f"line {line}", f"environment variable {name} is not set and has no default")

    return _VAR_RE.sub(repl, text)


def load(path: str | Path, env: dict[str, str] | None = None) -> EdgeConfig:
    """Read, substitute, parse, convert and check a config file."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(file, "", f"cannot read: {err.strerror or err}") from err
    return parse(substitute_env(text, file, env), file)


def parse(text: str, file: str = "<config>") -> EdgeConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(file, where, f"invalid YAML: {getattr(err, 'problem', None) or err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(file, "", "expected a mapping at the top level")
    _normalise_state_keys(raw)
    try:
        config = msgspec.convert({**raw, "source": file}, EdgeConfig, strict=False)
    except msgspec.ValidationError as err:
        raise _validation_error(file, str(err)) from err
    check(config)
    return config


def state_key(value: object) -> str:
    """A PLC value as a key of a `states` map: true/false, a whole number, or the string itself."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else str(value)


def _normalise_state_keys(raw: dict[str, Any]) -> None:
    """YAML reads `0:`, `true:` and `RUN:` as int, bool and str keys: make them the strings `state_key`
    gives, so a map is looked up the same way whatever the PLC's value type. YAML also reads the state
    `off` unquoted as false: read it back as "off" wherever a state name goes."""
    devices = raw.get("devices")
    for device in devices if isinstance(devices, list) else []:
        tags = device.get("tags") if isinstance(device, dict) else None
        for tag in tags if isinstance(tags, list) else []:
            if not isinstance(tag, dict):
                continue
            if isinstance(tag.get("states"), dict):
                tag["states"] = {state_key(k): _off(v) for k, v in tag["states"].items()}
            if isinstance(tag.get("state_bits"), dict):
                tag["state_bits"] = {k: _off(v) for k, v in tag["state_bits"].items()}
            tag["default"] = _off(tag.get("default"))
            rules = tag.get("derive")
            for rule in rules if isinstance(rules, list) else []:
                if isinstance(rule, dict) and "state" in rule:
                    rule["state"] = _off(rule["state"])
            if tag["default"] is None:
                del tag["default"]


def _off(value: object) -> object:
    return "off" if value is False else value


def _validation_error(file: str, message: str) -> ConfigError:
    problem, _, where = message.partition(" - at `")
    field = where.rstrip("`").removeprefix("$").lstrip(".") if where else ""
    if problem.startswith("Invalid enum value") and re.search(
        r"(states|state_bits|default|state)(\[|$)", field
    ):
        problem += f"; Takt's states are {', '.join(get_args(StateName))}"
    return ConfigError(file, field or "(top level)", problem)


def check(config: EdgeConfig) -> None:
    """Cross-field rules a struct cannot express."""
    seen_devices: set[str] = set()
    seen_tags: dict[tuple[str, str], str] = {}
    counters: dict[tuple[str, str], str] = {}  # (machine, production|scrap) -> where
    for i, device in enumerate(config.devices):
        where = f"devices[{i}]"
        if device.name in seen_devices:
            raise ConfigError(config.source, f"{where}.name", f"duplicate device name {device.name!r}")
        seen_devices.add(device.name)
        _check_device(config.source, where, device)
        for j, tag in enumerate(device.tags):
            tag_where = f"{where}.tags[{j}]"
            _check_tag(config.source, tag_where, device, tag)
            key = (tag.machine or device.machine or "", tag.name)
            if key in seen_tags:
                raise ConfigError(
                    config.source,
                    f"{tag_where}.name",
                    f"{key[0]}/{key[1]} already defined at {seen_tags[key]}",
                )
            seen_tags[key] = tag_where
            _check_one_counter(config.source, tag_where, key[0], tag, counters)
        _check_derive(config.source, where, device)


def _check_one_counter(
    file: str, where: str, machine: str, tag: Tag, counters: dict[tuple[str, str], str]
) -> None:
    """A machine counts parts from one production counter (good, total or cycles) and one scrap counter."""
    if tag.role not in COUNTER_ROLES:
        return
    kind = "scrap" if tag.role == "scrap_counter" else "production"
    other = counters.setdefault((machine, kind), where)
    if other != where:
        what = (
            "scrap counter"
            if kind == "scrap"
            else "production counter (counter, total_counter or cycle_counter)"
        )
        raise ConfigError(file, f"{where}.role", f"machine {machine} already has a {what} at {other}")


def _check_derive(file: str, where: str, device: Device) -> None:
    """A derived state reads booleans of the same device (they arrive together)."""
    names = {t.name for t in device.tags}
    for j, tag in enumerate(device.tags):
        for k, rule in enumerate(tag.derive or []):
            for name in rule.when:
                if name not in names or name == tag.name:
                    problem = f"{name!r} is not another tag of device {device.name}"
                    raise ConfigError(file, f"{where}.tags[{j}].derive[{k}].when", problem)


def _check_device(file: str, where: str, device: Device) -> None:
    if device.order is not None and (device.word_order != "big" or device.byte_order != "big"):
        raise ConfigError(
            file, f"{where}.order", "give order (ABCD, CDAB, BADC, DCBA) or word_order/byte_order"
        )
    if device.protocol == "modbus_tcp" and not device.host:
        raise ConfigError(file, f"{where}.host", "required for protocol modbus_tcp")
    if device.protocol == "modbus_rtu" and device.serial is None:
        raise ConfigError(file, f"{where}.serial", "required for protocol modbus_rtu (port, baudrate, ...)")
    if device.protocol == "opcua":
        if not device.endpoint or not device.endpoint.startswith("opc.tcp://"):
            raise ConfigError(file, f"{where}.endpoint", "required for opcua, like opc.tcp://host:4840")
        secure = device.security_policy != "None"
        if secure and device.security_mode == "None":
            raise ConfigError(file, f"{where}.security_mode", "must be Sign or SignAndEncrypt with a policy")
        if secure and not (device.certificate and device.private_key):
            raise ConfigError(file, f"{where}.certificate", "certificate and private_key are required")
        if secure:
            _check_server_trust(file, where, device)
        elif device.trust is not None:
            raise ConfigError(file, f"{where}.trust", "only applies with a security policy (Basic256Sha256)")
        if not secure and device.security_mode != "None":
            raise ConfigError(file, f"{where}.security_policy", "set a policy for Sign/SignAndEncrypt")


def _check_server_trust(file: str, where: str, device: Device) -> None:
    """With a security policy: exactly one of `server_certificate` (pinned) or `trust` (CA list)."""
    if device.server_certificate and device.trust is not None:
        problem = "give either server_certificate (pinned) or trust (CA list and CRLs), not both"
        raise ConfigError(file, f"{where}.trust", problem)
    if not device.server_certificate and device.trust is None:
        problem = "required with a security policy: server_certificate (pinned) or trust (CA list and CRLs)"
        raise ConfigError(file, f"{where}.server_certificate", problem)
    if device.trust is None:
        return
    for key, paths in (("certificates", device.trust.certificates), ("crls", device.trust.crls)):
        for k, path in enumerate(paths):
            if not os.path.exists(path):
                raise ConfigError(file, f"{where}.trust.{key}[{k}]", f"{path}: no such file or folder")


def _check_tag(file: str, where: str, device: Device, tag: Tag) -> None:
    if not (tag.machine or device.machine):
        raise ConfigError(file, f"{where}.machine", "required (or set the device's machine)")
    if not _TYPE_RE.match(tag.type):
        problem = f"unknown type {tag.type!r}; use bool, int16, uint16, int32, uint32, int64, uint64, "
        raise ConfigError(file, f"{where}.type", problem + "float32, float64 or string(N)")
    if tag.role in COUNTER_ROLES:
        _check_counter(file, where, device, tag)
    else:
        _check_not_counter(file, where, tag)
    _check_state(file, where, tag)
    if tag.role in PROTECTED_ROLES and tag.deadband is not None:
        raise ConfigError(file, f"{where}.deadband", f"a {tag.role} tag reports every change: no deadband")
    if tag.deadband is not None:
        _check_deadband(file, f"{where}.deadband", tag.deadband)
    if tag.order is not None and (tag.word_order or tag.byte_order):
        raise ConfigError(
            file, f"{where}.order", "give order (ABCD, CDAB, BADC, DCBA) or word_order/byte_order"
        )
    if tag.derive is not None:
        if tag.address is not None:
            raise ConfigError(
                file, f"{where}.address", "a derived state has no address (it reads other tags)"
            )
        return
    if tag.address is None or tag.address == "":
        raise ConfigError(file, f"{where}.address", "required (a register, a node id or a browse path)")
    if device.protocol == "opcua":
        if not isinstance(tag.address, str) or not tag.address:
            raise ConfigError(file, f"{where}.address", "an OPC UA node id (ns=2;s=...) or browse path")
        return
    _check_modbus_tag(file, where, tag)


def _check_counter(file: str, where: str, device: Device, tag: Tag) -> None:
    if tag.type == "bool" or tag.type.startswith(("float", "string")):
        raise ConfigError(
            file, f"{where}.type", f"a counter is a whole number: int16 .. uint64, not {tag.type}"
        )
    if tag.scale != 1.0 or tag.offset != 0.0:
        problem = (
            "a counter is sent raw (the server counts its steps): no scale/offset; cavities: parts_per_cycle"
        )
        raise ConfigError(file, f"{where}.scale", problem)
    type_bits = _TYPE_BITS.get(tag.type, 64)
    width = counter_width(device, tag)
    if width is None and device.protocol != "opcua":
        raise ConfigError(file, f"{where}.width", "counters need width 16, 32 or 64")
    if tag.width is not None and device.protocol != "opcua" and tag.width > type_bits:
        raise ConfigError(file, f"{where}.width", f"{tag.width} bits do not fit a {tag.type}")
    if width is not None and tag.reset_value >= 2**width:
        raise ConfigError(file, f"{where}.reset_value", f"{tag.reset_value} does not fit {width} bits")
    if tag.parts_per_cycle is not None and tag.role != "cycle_counter":
        raise ConfigError(file, f"{where}.parts_per_cycle", "only for role cycle_counter (parts per cycle)")
    if tag.direction == "down" and tag.reset_value == 0:
        problem = "a counter that counts down needs the preset it reloads to (reset_value)"
        raise ConfigError(file, f"{where}.reset_value", problem)


def _check_not_counter(file: str, where: str, tag: Tag) -> None:
    for field, value, default in (
        ("width", tag.width, None), ("direction", tag.direction, "up"), ("reset_value", tag.reset_value, 0),
        ("parts_per_cycle", tag.parts_per_cycle, None),
    ):  # fmt: skip
        if value != default:
            raise ConfigError(file, f"{where}.{field}", f"only for counters, not role {tag.role}")


def _check_state(file: str, where: str, tag: Tag) -> None:
    """`states`, `state_bits`, `derive` and `default` turn a PLC's values into Takt's states."""
    given = [k for k in ("states", "state_bits", "derive") if getattr(tag, k) is not None]
    if tag.role != "state":
        if given or tag.default is not None:
            field = (given or ["default"])[0]
            raise ConfigError(file, f"{where}.{field}", "maps values to Takt's states: only for role: state")
        return
    if len(given) > 1:
        raise ConfigError(
            file, f"{where}.{given[1]}", f"give one of states, state_bits or derive, not {given}"
        )
    if tag.scale != 1.0 or tag.offset != 0.0:
        raise ConfigError(file, f"{where}.scale", "a state is not scaled (map its values with states)")
    if tag.state_bits is not None:
        bits = _TYPE_BITS.get(tag.type)
        if bits is None or tag.bit is not None:
            raise ConfigError(
                file, f"{where}.state_bits", "reads bits of a whole word: an integer type, no bit"
            )
        for bit in tag.state_bits:
            if not 0 <= bit < bits:
                raise ConfigError(
                    file, f"{where}.state_bits", f"bit {bit} is not in a {tag.type} (0..{bits - 1})"
                )
    if tag.states is not None and not tag.states:
        raise ConfigError(
            file, f"{where}.states", "empty: map at least one value, like {0: idle, 1: running}"
        )


def counter_width(device: Device, tag: Tag) -> int | None:
    """A counter's width: as configured, else its integer type's (Modbus; OPC UA reads the server's type)."""
    if tag.width is not None:
        return tag.width
    return None if device.protocol == "opcua" else _TYPE_BITS.get(tag.type)


def orders(device: Device, tag: Tag) -> tuple[Order, Order, bool]:
    """(word order, byte order, byte-swap single registers) of a Modbus tag: the tag's, else the device's.
    A single register is byte-swapped only when the tag itself says so (docs/edge.md)."""
    base = LAYOUTS[device.order] if device.order else (device.word_order, device.byte_order)
    if tag.order is not None:
        word, byte = LAYOUTS[tag.order]
        return word, byte, byte == "little"
    return tag.word_order or base[0], tag.byte_order or base[1], tag.byte_order == "little"


def _check_deadband(file: str, where: str, deadband: float | str) -> None:
    if isinstance(deadband, str):
        number = deadband.strip().removesuffix("%")
        try:
            ok = deadband.strip().endswith("%") and float(number) >= 0
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(file, where, f"{deadband!r}: use a number (absolute) or a percentage like '2%'")
    elif deadband < 0:
        raise ConfigError(file, where, "must be >= 0")


def _check_modbus_tag(file: str, where: str, tag: Tag) -> None:
    if tag.table is None:
        raise ConfigError(file, f"{where}.table", "required for Modbus: coil, discrete, holding or input")
    if not isinstance(tag.address, int) or not 0 <= tag.address <= 65535:
        raise ConfigError(file, f"{where}.address", "a Modbus address 0..65535 (0-based protocol address)")
    if tag.table in {"coil", "discrete"}:
        if tag.type != "bool" or tag.bit is not None:
            raise ConfigError(file, f"{where}.type", f"a {tag.table} is a single bool (type: bool, no bit)")
    elif tag.type == "bool" and tag.bit is None:
        raise ConfigError(file, f"{where}.bit", "a bool in a register needs `bit: 0..15`")
    elif tag.bit is not None and tag.type not in {"bool", "uint16"}:
        raise ConfigError(file, f"{where}.bit", "only bool tags read a bit of a register")
    if tag.writable and tag.table in {"discrete", "input"}:
        raise ConfigError(file, f"{where}.writable", f"{tag.table} registers are read-only in Modbus")


def string_length(type_: str) -> int | None:
    match = _TYPE_RE.match(type_)
    return int(match.group(2)) if match and match.group(2) else None


def to_builtins(config: EdgeConfig) -> dict[str, Any]:
    """The config as plain data (for `check` output and tests)."""
    data: dict[str, Any] = msgspec.to_builtins(config)
    return data

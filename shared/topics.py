"""MQTT topic names (docs/ingest.md). The only place topics are built or parsed.

takt/v1/{site}/{edge_id}/data        edge -> server   sample batches (QoS 1)
takt/v1/{site}/{edge_id}/status      edge -> server   retained birth; last will "offline"
takt/v1/{site}/{edge_id}/alive       edge -> server   heartbeat (QoS 0), every keepalive / 3 s
takt/v1/{site}/{edge_id}/ack         server -> edge   highest contiguous stored seq (retained)
takt/v1/{site}/{edge_id}/cmd/{name}  server -> edge   commands (reload, write)
takt/v1/{site}/{edge_id}/result      edge -> server   command results
"""

import re
from dataclasses import dataclass
from typing import Literal

from shared.errors import TopicError

PREFIX = "takt/v1"
ID_PATTERN = r"[a-z0-9_-]{1,64}"
_ID = re.compile(ID_PATTERN)
SHARE_GROUP = "takt"

Kind = Literal["data", "status", "alive", "ack", "cmd", "result"]
_KINDS: frozenset[str] = frozenset({"data", "status", "alive", "ack", "cmd", "result"})


@dataclass(frozen=True, slots=True)
class Topic:
    site: str
    edge_id: str
    kind: Kind
    name: str | None = None  # the command name, for kind == "cmd"


def check_id(value: str, what: str = "id") -> str:
    """Return `value` if it is a valid site, edge or machine id, else raise TopicError."""
    if not _ID.fullmatch(value):
        raise TopicError(f"{what} {value!r} must match {ID_PATTERN}")
    return value


def _base(site: str, edge_id: str) -> str:
    return f"{PREFIX}/{check_id(site, 'site')}/{check_id(edge_id, 'edge id')}"


def data(site: str, edge_id: str) -> str:
    return f"{_base(site, edge_id)}/data"


def status(site: str, edge_id: str) -> str:
    return f"{_base(site, edge_id)}/status"


def alive(site: str, edge_id: str) -> str:
    return f"{_base(site, edge_id)}/alive"


def ack(site: str, edge_id: str) -> str:
    return f"{_base(site, edge_id)}/ack"


def result(site: str, edge_id: str) -> str:
    return f"{_base(site, edge_id)}/result"


def cmd(site: str, edge_id: str, name: str) -> str:
    return f"{_base(site, edge_id)}/cmd/{check_id(name, 'command name')}"


def cmd_filter(site: str, edge_id: str) -> str:
    """What an edge subscribes to for its commands."""
    return f"{_base(site, edge_id)}/cmd/+"


def server_filter(kind: Literal["data", "status", "alive", "result"], shared: bool = False) -> str:
    """What the server subscribes to; `shared` spreads the stream over replicas ($share/...)."""
    topic = f"{PREFIX}/+/+/{kind}"
    return f"$share/{SHARE_GROUP}/{topic}" if shared else topic


def parse(topic: str) -> Topic:
    """Parse one of our topics; raise TopicError for anything else."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != PREFIX:
        raise TopicError(f"not a takt/v1 topic: {topic!r}")
    site, edge_id, kind = check_id(parts[2], "site"), check_id(parts[3], "edge id"), parts[4]
    if kind not in _KINDS:
        raise TopicError(f"unknown topic kind {kind!r} in {topic!r}")
    if kind == "cmd":
        if len(parts) != 6:
            raise TopicError(f"command topic needs a name: {topic!r}")
        return Topic(site, edge_id, "cmd", check_id(parts[5], "command name"))
    if len(parts) != 5:
        raise TopicError(f"unexpected topic levels in {topic!r}")
    return Topic(site, edge_id, kind)  # type: ignore[arg-type]
